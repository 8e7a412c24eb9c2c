"""One SQLite MLflow store per session; each test gets its own registered model in it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import mlflow
import numpy as np
import pandas as pd
import pytest
import sklearn
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.pyfunc.model import PythonModel
from mlflow.types import ColSpec, Schema
from rops_models import CONTRACT, Broken, SklearnChurn, fit_pipeline, make_customers

from churn_registry_ops import ModelRegistry

PIP = [
    f"mlflow=={mlflow.__version__}",
    f"scikit-learn=={sklearn.__version__}",
    f"pandas=={pd.__version__}",
    f"numpy=={np.__version__}",
]


def _signature(columns: dict[str, str]) -> ModelSignature:
    return ModelSignature(
        inputs=Schema([ColSpec(t, name) for name, t in columns.items()]),
        outputs=Schema([ColSpec("double")]),
    )


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


@pytest.fixture(scope="session")
def logged(tracking_uri: str, data: dict) -> dict[str, str]:
    """Model URIs logged once per session: kind -> models:/<id>."""
    df, y = data["train"]
    full = _signature(CONTRACT)
    models: dict[str, tuple[PythonModel, ModelSignature, list[str]]] = {
        # the seed's story: a weak first model, a better second one
        "weak": (SklearnChurn(fit_pipeline(["monthly_charges"], df, y)), full, PIP),
        "strong": (SklearnChurn(fit_pipeline(list(CONTRACT), df, y)), full, PIP),
        "nan": (Broken("nan"), full, PIP),
        "raw": (Broken("raw"), full, PIP),
        "random": (Broken("random"), full, PIP),
        "two_columns": (Broken("two_columns"), full, PIP),
        "unsatisfiable": (Broken("ok"), full, [*PIP[:-1], "numpy<1.0"]),
        "no_signature": (Broken("ok"), None, PIP),  # type: ignore[dict-item]
        "wrong_signature": (
            Broken("ok"),
            _signature(
                {
                    "senior_citizen": "long",
                    "tenure": "double",  # mistyped
                    "monthly_charges": "double",
                    "payment_method": "string",  # extra; contract is missing
                }
            ),
            PIP,
        ),
    }
    uris = {}
    with mlflow.start_run(run_name="test-models"):
        for kind, (model, signature, pip) in models.items():
            info = mlflow.pyfunc.log_model(
                name=kind, python_model=model, signature=signature, pip_requirements=pip
            )
            uris[kind] = info.model_uri
    return uris


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
    """register(kind) -> new version number of `kind` under the test's model."""

    def _register(kind: str) -> str:
        mv = mlflow.register_model(logged[kind], model_name)
        return str(mv.version)

    return _register
