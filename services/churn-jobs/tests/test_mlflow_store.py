"""A new local MLflow store is a copy of an empty template (mlflow_store.py)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from churn_jobs.local_platform import LocalPlatform
from churn_jobs.mlflow_store import seed_store


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    yield tmp_path / "cache" / "churn-jobs"
    mlflow.set_tracking_uri(tracking)
    mlflow.set_registry_uri(registry)


def test_new_stores_start_from_an_empty_template_and_stay_apart(
    tmp_path: Path, cache: Path
) -> None:
    for name in ("first", "second"):
        platform = LocalPlatform(tmp_path / name)
        platform.configure_mlflow()
        client = mlflow.MlflowClient()
        experiment = client.create_experiment(
            "churn", artifact_location=platform.artifact_location("churn")
        )
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric("auc", 0.8)
        client.create_registered_model("churn_model")
        # each store holds its own run only, and MLflow's default experiment beside it
        assert sorted(e.name for e in client.search_experiments()) == ["Default", "churn"]
        assert len(client.search_runs([experiment])) == 1
    (template,) = cache.glob("mlflow-*-empty.db")
    with sqlite3.connect(template) as db:
        # nothing of the machine or folder that made it: tables only
        assert db.execute("SELECT count(*) FROM experiments").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM registered_models").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_an_existing_store_is_never_replaced(tmp_path: Path, cache: Path) -> None:
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"someone's store")
    assert not seed_store(db, cache)
    assert db.read_bytes() == b"someone's store"
    assert seed_store(tmp_path / "new.db", cache)
    assert not seed_store(tmp_path / "new.db", cache)
