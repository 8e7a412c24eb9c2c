"""A refresh killed (SIGKILL) between two commits is never read: the next model-train uses the
tables of the last completed refresh, and rerunning the refresh converges.

Every step is its own process on one CHURN_HOME, as jobs run: the Derby metastore admits one
Spark driver at a time, and a killed driver must not leave anything a later job trips over.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

from churn_features.dataset import vendored_csv_path

TABLES = ("churn_bronze", "churn_quarantine", "churn_features", "churn_labels", "churn_reference")
DROPPED = 200  # customers the second source no longer has (2.8%: within the deletion guard)

# Test code, not product code: the refresh as `churn run` runs it, paused right after it commits
# the labels (bronze, quarantine, features and labels written; reference and log not).
PAUSED_REFRESH = """
import sys, time
from pathlib import Path
import churn_features.refresh as refresh
from churn_jobs.cli import main

ready, params = Path(sys.argv[1]), sys.argv[2]
write = refresh.replace_table

def pause_after_the_labels(df, name, description):
    version = write(df, name, description)
    if name.endswith(".churn_labels"):
        ready.with_suffix(".tmp").write_text(str(version))
        ready.with_suffix(".tmp").rename(ready)
        time.sleep(3600)  # killed here
    return version

refresh.replace_table = pause_after_the_labels
sys.argv = ["churn", "run", "feature-table-refresh", "--params", params]
main()
"""

INSPECT = """
import json, sys
from pathlib import Path
from churn_features.tables import table_version
from churn_jobs.local_platform import LocalPlatform

tables = [f"churn.{t}" for t in sys.argv[2].split(",")]
spark = LocalPlatform(Path(sys.argv[1])).spark(master="local[1]")
log = spark.table("churn.churn_refresh_log").orderBy("completed_at").collect()
ids = lambda t: sorted(r.customer_id for r in spark.table(t).select("customer_id").collect())
print(json.dumps({
    "log": [dict(row.versions) for row in log],
    "current": {t: table_version(spark, t) for t in tables},
    "features": ids("churn.churn_features"),
    "labels": ids("churn.churn_labels"),
    "reference": ids("churn.churn_reference"),
}))
"""


def python(script: str, *args: str, home: Path) -> dict[str, Any]:
    env = {**os.environ, "CHURN_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def inspect(home: Path) -> dict[str, Any]:
    return python(INSPECT, str(home), ",".join(TABLES), home=home)


def shrunk_source(path: Path) -> Path:
    with gzip.open(vendored_csv_path(), "rt", encoding="utf-8", newline="") as raw:
        lines = raw.read().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + lines[1 + DROPPED :]), encoding="utf-8")
    assert len(list(csv.reader(path.open()))) == 7043 - DROPPED + 1
    return path


def kill_paused_refresh(params: Path, home: Path, tmp_path: Path) -> int:
    """Run the paused refresh, SIGKILL its process group (driver and JVM) once it has committed
    the labels; return the labels version it committed."""
    ready = tmp_path / "paused"
    log = (tmp_path / "paused-refresh.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-c", PAUSED_REFRESH, str(ready), str(params)],
        env={**os.environ, "CHURN_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 900
        while not ready.exists():
            assert child.poll() is None, (tmp_path / "paused-refresh.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the refresh never reached the labels"
            time.sleep(1)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=60)
        log.close()
    assert child.returncode == -signal.SIGKILL
    time.sleep(2)  # let the JVM of the killed driver go away with its file locks
    return int(ready.read_text())


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_a_killed_refresh_is_never_trained_on_and_a_rerun_converges(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    home = tmp_path / "home"
    first = run_cli("churn", "run", "feature-table-refresh", home=home)
    assert first.returncode == 0, first.stderr

    params = tmp_path / "refresh.yaml"
    params.write_text(f"source: {shrunk_source(tmp_path / 'shrunk.csv')}\n")
    crashed_labels = kill_paused_refresh(params, home, tmp_path)

    train = run_cli("churn", "run", "model-train", home=home)
    assert train.returncode == 0, train.stderr

    state = inspect(home)
    assert len(state["log"]) == 1, "the killed refresh recorded nothing"
    complete = state["log"][0]
    current = state["current"]
    labels, features = "churn.churn_labels", "churn.churn_features"
    assert current[labels] == crashed_labels != complete[labels], "the crash committed labels"
    assert current[features] != complete[features], "and merged the shrunk source's features"
    assert len(state["features"]) == 7043 - DROPPED

    registry = MlflowClient(f"sqlite:///{home / 'mlflow.db'}")
    tags = registry.get_model_version("churn_model", "1").tags
    assert tags["delta_version_churn_churn_labels"] == str(complete[labels])
    assert tags["delta_version_churn_churn_features"] == str(complete[features])
    reference_before = set(state["reference"])

    rerun = run_cli("churn", "run", "feature-table-refresh", "--params", str(params), home=home)
    assert rerun.returncode == 0, rerun.stderr
    state = inspect(home)
    assert len(state["log"]) == 2
    assert state["log"][-1] == state["current"], "the log names exactly the tables as they are"
    customers = set(state["features"])
    assert len(customers) == 7043 - DROPPED
    labelled, reference = set(state["labels"]), set(state["reference"])
    assert labelled | reference == customers
    assert not labelled & reference
    assert reference_before & customers <= reference, "reference customers kept their side"
