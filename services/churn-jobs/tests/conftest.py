from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from churn_jobs.settings import RuntimeSettings

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[3]
# The one fake Databricks workspace (a REST server the real databricks-sdk talks to) is infra's
# test helper: the serving-endpoint tests import it from there rather than copying it.
sys.path.insert(0, str(REPO / "infra" / "tests"))


@pytest.fixture(autouse=True, scope="module")
def _isolated_mlflow_uris() -> Iterator[None]:
    """MLflow keeps the tracking/registry URI process-wide and exports them as environment
    variables (inherited by subprocesses): the jobs one test module runs must not point the next
    module's clients or `churn` processes at its store. (Per module: module-scoped fixtures
    configure MLflow once for all their tests.)"""
    import mlflow

    def reset() -> None:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            os.environ.pop(var, None)

    reset()
    yield
    reset()


@pytest.fixture
def infra_dir() -> Path:
    """The repository's environments and params (read through churn-infra's loader)."""
    return REPO / "infra"


@pytest.fixture
def runtime() -> RuntimeSettings:
    return RuntimeSettings(
        environment="test", schema="churn_test", experiment="t", registered_model_name="m"
    )


def run_cli(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A console script of this package, as a user runs it (own process, exit code, stderr)."""
    env = {**os.environ, "CHURN_HOME": str(home)}
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def stop_spark() -> None:
    """Stop this process's Spark session, if any: a module that started one on its own home
    stops it, so that the next module's jobs start theirs on their own home (``getOrCreate``
    would hand them this one, metastore and warehouse included)."""
    from pyspark.sql import SparkSession

    if (active := SparkSession.getActiveSession()) is not None:
        active.stop()


@pytest.fixture
def fake_workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The FAKE Databricks workspace (infra/tests/fake_serving.py: jobs, UC models, serving
    endpoints), reached through databricks-sdk unified auth as on a cluster or at a terminal."""
    from fake_serving import FakeServingWorkspace

    with FakeServingWorkspace() as workspace:
        monkeypatch.setenv("DATABRICKS_HOST", workspace.host)
        monkeypatch.setenv("DATABRICKS_TOKEN", workspace.token)
        monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
        yield workspace
