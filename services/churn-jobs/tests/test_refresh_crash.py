"""A refresh killed (SIGKILL) after its table commits, before its log row, is never read: the next
model-train uses the tables of the last completed refresh, and rerunning the refresh converges.

Two drivers on one CHURN_HOME, one after the other (the Derby metastore admits one Spark driver
at a time): a child process that is killed, then this test's own, which trains, inspects and
reruns, as the next jobs would after a crash. A killed driver must not leave anything a later
driver trips over. (Jobs run in the second driver one after another, as `churn demo` runs them:
one driver per later job would prove nothing more and cost a JVM start and a cold JIT each.)
"""

from __future__ import annotations

import csv
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import stop_spark
from rich.console import Console

from churn_features.dataset import vendored_csv_path

TABLES = ("churn_bronze", "churn_quarantine", "churn_features", "churn_labels", "churn_reference")
#: the first source: the vendored data's first customers (which tables a crash leaves behind does
#: not depend on their number; each Spark job of the three refreshes and the training costs less)
CUSTOMERS = 2000
DROPPED = 50  # customers the second source no longer has (2.5%: within the deletion guard)

# Test code, not product code. One driver: a complete refresh of the first source, then a
# refresh of the shrunk source, paused right before its log row (every table written, the log
# not: the most a crash can leave unread) until the test kills it.
REFRESH_THEN_PAUSE = """
import sys, time
from pathlib import Path
import churn_features.refresh as refresh
from churn_jobs.request import request_from_files
from churn_jobs.runner import run_job

ready, complete, params = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
run_job("feature-table-refresh", request_from_files("feature-table-refresh", "local", complete))

def pause_before_the_log(spark, log_table, versions, source):
    labels = next(v for name, v in versions.items() if name.endswith(".churn_labels"))
    ready.with_suffix(".tmp").write_text(str(labels))
    ready.with_suffix(".tmp").rename(ready)
    time.sleep(3600)  # killed here

refresh.record_refresh = pause_before_the_log
run_job("feature-table-refresh", request_from_files("feature-table-refresh", "local", params))
"""


LIGHT_TRAINING = {
    "model": {
        "estimator": {"kind": "random_forest", "n_estimators": 20, "max_depth": 4},
        "split": {"test_size": 0.25, "seed": 42, "stratify": True},
    },
    "plots": False,
}


def train_inspect_rerun_inspect(home: Path, params: Path) -> dict[str, Any]:
    """model-train (as `churn run model-train` runs it), the state of the tables, then the
    refresh rerun, then the state again: in this test's process, whose driver JVM is not the
    killed one (no second child: it would prove nothing more and cost a JVM start and imports)."""
    from churn_features.tables import read_version, table_version
    from churn_jobs.local_platform import LocalPlatform
    from churn_jobs.request import request_from_files
    from churn_jobs.runner import run_job

    console = Console(width=140)
    train = request_from_files("model-train", "local")
    # what this test checks is which table versions model-train reads, not the model: a small
    # forest and no plots (the job's own tests cover those)
    train = train.model_copy(update={"params": {**train.params, **LIGHT_TRAINING}})
    try:
        run_job("model-train", train, console, home)
        spark = LocalPlatform(home).spark()

        def ids(table: str, version: int | None = None) -> list[str]:
            rows = spark.table(table) if version is None else read_version(spark, table, version)
            return sorted(r.customer_id for r in rows.select("customer_id").collect())

        def state() -> dict[str, Any]:
            log = spark.table("churn.churn_refresh_log").orderBy("completed_at").collect()
            return {
                "log": [dict(row.versions) for row in log],
                "current": {f"churn.{t}": table_version(spark, f"churn.{t}") for t in TABLES},
                "features": ids("churn.churn_features"),
                "labels": ids("churn.churn_labels"),
                "reference": ids("churn.churn_reference"),
                # the reference of the last completed refresh, the split a rerun must keep
                "logged_reference": ids(
                    "churn.churn_reference", dict(log[-1].versions)["churn.churn_reference"]
                ),
            }

        after_crash = state()
        refresh = request_from_files("feature-table-refresh", "local", params)
        run_job("feature-table-refresh", refresh, console, home)
        return {"after_crash": after_crash, "after_rerun": state()}
    finally:
        stop_spark()


#: generous: on a loaded two-core machine one Spark start alone has taken minutes
TIMEOUT = 1800


def driver_env(home: Path) -> dict[str, str]:
    return {**os.environ, "CHURN_HOME": str(home)}


def sources(tmp_path: Path) -> tuple[Path, Path]:
    """The params files of both refreshes: the vendored data's first ``CUSTOMERS`` customers,
    and the same without the first ``DROPPED`` of them."""
    with gzip.open(vendored_csv_path(), "rt", encoding="utf-8", newline="") as raw:
        lines = raw.read().splitlines(keepends=True)
    header, rows = lines[:1], lines[1 : 1 + CUSTOMERS]
    params = []
    for name, kept in (("complete", rows), ("shrunk", rows[DROPPED:])):
        path = tmp_path / f"{name}.csv"
        path.write_text("".join(header + kept), encoding="utf-8")
        with path.open(newline="") as handle:
            assert len(list(csv.reader(handle))) == len(kept) + 1
        params.append(tmp_path / f"{name}.yaml")
        params[-1].write_text(f"source: {path}\n")
    return params[0], params[1]


def refresh_then_kill(complete: Path, params: Path, home: Path, tmp_path: Path) -> int:
    """Refresh the source of ``complete`` to the end, then SIGKILL the process group (driver and
    its JVM) of the refresh of ``params`` once it has committed every table but not its log row;
    return the labels version it committed."""
    ready = tmp_path / "paused"
    log_path = tmp_path / "paused-refresh.log"
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-c", REFRESH_THEN_PAUSE, str(ready), str(complete), str(params)],
            env=driver_env(home),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + TIMEOUT
            while not ready.exists():
                assert child.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, "the refresh never reached its log row"
                time.sleep(1)
        finally:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    return int(ready.read_text())


@pytest.mark.slow
@pytest.mark.timeout(3 * TIMEOUT)
def test_a_killed_refresh_is_never_trained_on_and_a_rerun_converges(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    home = tmp_path / "home"
    complete_params, params = sources(tmp_path)
    crashed_labels = refresh_then_kill(complete_params, params, home, tmp_path)

    states = train_inspect_rerun_inspect(home, params)

    state = states["after_crash"]
    assert len(state["log"]) == 1, "the killed refresh recorded nothing"
    complete, current = state["log"][0], state["current"]
    labels, features, reference = (
        "churn.churn_labels",
        "churn.churn_features",
        "churn.churn_reference",
    )
    assert current[labels] == crashed_labels != complete[labels], "the crash committed labels"
    assert current[features] != complete[features], "and merged the shrunk source's features"
    assert current[reference] != complete[reference], "and replaced the reference"
    assert len(state["features"]) == CUSTOMERS - DROPPED

    uri = f"sqlite:///{home / 'mlflow.db'}"
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    tags = registry.get_model_version("churn_model", "1").tags
    assert tags["delta_version_churn_churn_labels"] == str(complete[labels])
    assert tags["delta_version_churn_churn_features"] == str(complete[features])
    reference_before = set(state["logged_reference"])

    state = states["after_rerun"]
    assert len(state["log"]) == 2
    assert state["log"][-1] == state["current"], "the log names exactly the tables as they are"
    customers = set(state["features"])
    assert len(customers) == CUSTOMERS - DROPPED
    labelled, held_out = set(state["labels"]), set(state["reference"])
    assert labelled | held_out == customers
    assert not labelled & held_out
    assert reference_before & customers <= held_out, "reference customers kept their side"
