"""Shared fixtures: a synthetic customer frame, a fitted pipeline, one SQLite MLflow store."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from churn_model_data import make_customers

from churn_model import ModelConfig, model_config_from_mapping, train
from churn_model.training import TrainResult


@pytest.fixture(scope="session")
def customers() -> tuple[pd.DataFrame, pd.Series]:
    return make_customers(800, seed=7)


@pytest.fixture(scope="session")
def lr_config() -> ModelConfig:
    return model_config_from_mapping(
        {
            "estimator": {"kind": "logistic_regression", "C": 0.3},
            "features": {"interactions": ["contract_x_fiber", "electronic_check"]},
            "threshold": 0.4,
        }
    )


@pytest.fixture(scope="session")
def trained(customers: tuple[pd.DataFrame, pd.Series], lr_config: ModelConfig) -> TrainResult:
    features, labels = customers
    return train(features, labels, lr_config)


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real local MLflow tracking + registry store (SQLite) with artifacts under tmp."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous_tracking, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("churn-model-tests", artifact_location=str(root / "art"))
    mlflow.set_experiment(experiment_id=experiment)
    yield uri
    mlflow.set_tracking_uri(previous_tracking)
    mlflow.set_registry_uri(previous_registry)
