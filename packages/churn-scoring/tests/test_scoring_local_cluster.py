from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import World
from pyspark.sql import SparkSession

from churn_local_spark.session import CLIENT_JIT, DRIVER_GC

SCRIPT = Path(__file__).with_name("local_cluster_scoring.py")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_scoring_works_across_executor_processes(
    spark: SparkSession, world: World, mlflow_store: str, tmp_path: Path
) -> None:
    detail = spark.sql(f"DESCRIBE DETAIL {world.tables.features}").first()
    assert detail is not None
    out = tmp_path / "result.json"
    args = [mlflow_store, world.model_uri, world.tables.features, detail["location"], str(out)]

    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=840
    )

    assert completed.returncode == 0, completed.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["executors"] == 2
    assert result["rows_written"] == result["rows_expected"] + 1
    assert result["rows_without_features"] == 1
    assert result["unknown_probability"] is None
    assert result["max_abs_diff"] <= 1e-9
    # short-lived JVMs sharing the machine's cores: the client compiler only, and the executors
    # the driver's collector (churn-local-spark)
    assert set(CLIENT_JIT) <= set(result["driver_jvm_arguments"])
    assert len(result["executor_jvm_arguments"]) == 2
    # and, when the driver maps a class archive (churn-local-spark's class cache), they map it too
    archive = {a for a in result["driver_jvm_arguments"] if a.startswith("-XX:SharedArchiveFile=")}
    for args in result["executor_jvm_arguments"]:
        assert set(CLIENT_JIT) <= set(args)
        assert DRIVER_GC in args
        assert archive <= set(args)
