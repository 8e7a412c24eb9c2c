"""One SQLite MLflow store per session; each test gets its own registered model in it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from rops_models import make_customers
from sklearn.dummy import DummyClassifier

import churn_model
from churn_registry_ops import ModelRegistry

Tamper = Callable[[str, Callable[[Path], None]], str]


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    exp = mlflow.create_experiment("registry-ops-tests", artifact_location=str(root / "art"))
    mlflow.set_experiment(experiment_id=exp)
    yield uri
    mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="session")
def data() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    return {"train": make_customers(1500, seed=1), "reference": make_customers(600, seed=2)}


FEATURES = {"numeric": ["senior_citizen", "tenure", "monthly_charges"], "categorical": ["contract"]}
ESTIMATORS = {
    # the seed's story: a weak first model (one stump: ROC AUC ~0.68), a better second one (~0.85)
    "weak": {"kind": "random_forest", "n_estimators": 1, "max_depth": 1, "max_features": 1},
    "strong": {"kind": "logistic_regression"},
}


def log_churn_model(
    pipeline: object, config: churn_model.ModelConfig, example: pd.DataFrame, name: str
) -> str:
    spec = churn_model.FeatureSpec.for_table(
        "churn_features", config.features.columns, label="churn"
    )
    info = churn_model.log_model(
        pipeline, config, name=name, feature_spec=spec, input_example=example
    )
    return info.model_uri


@pytest.fixture(scope="session")
def logged(tracking_uri: str, data: dict) -> dict[str, str]:
    """Real churn-model versions, logged once per session: kind -> model URI."""
    df, y = data["train"]
    uris = {}
    with mlflow.start_run(run_name="test-models"):
        for kind, estimator in ESTIMATORS.items():
            config = churn_model.model_config_from_mapping(
                {"estimator": estimator, "features": FEATURES}
            )
            result = churn_model.train(df, pd.Series(y), config)
            uris[kind] = log_churn_model(result.pipeline, result.config, result.X_train, kind)
        # churn-model's own format, but no skill: the same probability for everyone
        config = churn_model.model_config_from_mapping(
            {"estimator": ESTIMATORS["strong"], "features": FEATURES}
        )
        dummy = DummyClassifier(strategy="prior").fit(df[config.features.columns], y)
        uris["constant"] = log_churn_model(dummy, config, df, "constant")
        # trained on other columns: tenure as a float and payment_method instead of contract
        other = df.assign(
            tenure=df["tenure"].astype(float),
            payment_method=np.where(df["senior_citizen"] == 1, "check", "card"),
        )
        config = churn_model.model_config_from_mapping(
            {
                "estimator": ESTIMATORS["strong"],
                "features": {
                    "numeric": ["senior_citizen", "tenure", "monthly_charges"],
                    "categorical": ["payment_method"],
                },
            }
        )
        result = churn_model.train(other, pd.Series(y), config)
        uris["wrong_signature"] = log_churn_model(
            result.pipeline, result.config, result.X_train, "wrong_signature"
        )
    return uris


@pytest.fixture(scope="session")
def tamper(logged: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Tamper:
    """tamper(kind, edit) -> URI of a copy of `kind`'s model directory changed by `edit(dir)`.

    What someone able to log artifacts could register: the files are real, only edited.
    """

    def _tamper(kind: str, edit: Callable[[Path], None]) -> str:
        work = tmp_path_factory.mktemp(f"tampered-{kind}")
        local = Path(mlflow.artifacts.download_artifacts(logged[kind], dst_path=str(work)))
        edit(local)
        with mlflow.start_run(run_name=f"tampered-{kind}") as run:
            mlflow.log_artifacts(str(local), "model")
        return f"runs:/{run.info.run_id}/model"

    return _tamper


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@pytest.fixture
def model_name(client: MlflowClient) -> str:
    name = f"churn_{uuid.uuid4().hex[:10]}"
    client.create_registered_model(name)
    return name


@pytest.fixture(params=["aliases", "stages"])
def registry(
    request: pytest.FixtureRequest, client: MlflowClient, model_name: str
) -> ModelRegistry:
    return ModelRegistry(client, model_name, request.param, lock_wait_seconds=10)


@pytest.fixture
def register(logged: dict[str, str], model_name: str) -> Callable[[str], str]:
    """register(kind or model URI) -> new version number of it under the test's model."""

    def _register(kind: str) -> str:
        mv = mlflow.register_model(logged.get(kind, kind), model_name)
        return str(mv.version)

    return _register
