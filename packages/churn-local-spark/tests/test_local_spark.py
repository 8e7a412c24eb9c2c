from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from churn_local_spark import SQL_SETTINGS, local_spark


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark(
        "churn-local-spark-tests",
        warehouse_dir=tmp_path_factory.mktemp("warehouse"),
        conf={"spark.sql.shuffle.partitions": "3"},
    )
    yield session
    session.stop()


def test_the_session_is_local_on_loopback_with_the_workarounds(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.driver.host") == "127.0.0.1"
    assert conf.get("spark.driver.bindAddress") == "127.0.0.1"
    assert conf.get("spark.pyspark.python") == sys.executable
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    for key, value in SQL_SETTINGS.items():
        assert spark.conf.get(key) == value
    # ``conf`` wins over the defaults
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"


def test_delta_tables_work_with_time_travel(spark: SparkSession, tmp_path: Path) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS t")
    spark.range(3).write.format("delta").saveAsTable("t.numbers")
    spark.range(5).write.format("delta").mode("overwrite").saveAsTable("t.numbers")
    assert spark.table("t.numbers").count() == 5
    assert spark.sql("SELECT * FROM t.numbers VERSION AS OF 0").count() == 3


def test_python_workers_run_this_interpreter(spark: SparkSession) -> None:
    def executable(_: object) -> str:
        import sys as worker_sys

        return worker_sys.executable

    assert set(spark.sparkContext.parallelize([1, 2], 2).map(executable).collect()) == {
        sys.executable
    }


def _collectors(spark: SparkSession) -> list[str]:
    management = spark.sparkContext._jvm.java.lang.management.ManagementFactory  # type: ignore[union-attr]
    return sorted(str(bean.getName()) for bean in management.getGarbageCollectorMXBeans())


def test_the_driver_jvm_runs_the_parallel_collector(spark: SparkSession) -> None:
    assert _collectors(spark) == ["PS MarkSweep", "PS Scavenge"]


COLLECTORS_CHILD = """
import sys
from churn_local_spark import local_spark
spark = local_spark("collector-test", warehouse_dir=sys.argv[1])
management = spark.sparkContext._jvm.java.lang.management.ManagementFactory
print("COLLECTORS", sorted(str(b.getName()) for b in management.getGarbageCollectorMXBeans()))
"""


def test_a_collector_chosen_in_the_environment_is_kept(tmp_path: Path) -> None:
    """Two collectors would stop the JVM: JAVA_TOOL_OPTIONS' choice wins over ours."""
    import os
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", COLLECTORS_CHILD, str(tmp_path / "warehouse")],
        env={**os.environ, "JAVA_TOOL_OPTIONS": "-XX:+UseSerialGC"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "COLLECTORS ['Copy', 'MarkSweepCompact']" in result.stdout
