"""The seed's story with real churn-model versions (RF depth 4, then 8) logged by churn_model."""

from __future__ import annotations

import tempfile

import mlflow
import numpy as np
import pandas as pd
import pytest
from rops_models import CONTRACT

import churn_model
from churn_model.training import TrainResult
from churn_registry_ops import ComparisonRule, ModelRegistry, RegistryState, compare
from churn_registry_ops.validation import validate_version


@pytest.fixture(scope="module")
def trained(data: dict) -> dict[int, TrainResult]:
    df, y = data["train"]
    out = {}
    for depth in (4, 8):
        config = churn_model.model_config_from_mapping(
            {
                "estimator": {"kind": "random_forest", "n_estimators": 40, "max_depth": depth},
                "features": {
                    "numeric": ["senior_citizen", "tenure", "monthly_charges"],
                    "categorical": ["contract"],
                },
            }
        )
        out[depth] = churn_model.train(df, pd.Series(y), config)
    return out


def test_churn_model_versions_pass_sanity_and_go_through_deployment(
    registry: ModelRegistry, trained: dict, data: dict
) -> None:
    versions = []
    for depth in (4, 8):
        result = trained[depth]
        with mlflow.start_run(run_name=f"train-depth-{depth}"):
            info = churn_model.log_model(
                result.pipeline,
                result.config,
                feature_spec=churn_model.FeatureSpec.for_table(
                    "churn_features", result.config.features.columns, label="churn"
                ),
                input_example=result.X_train,
                registered_model_name=registry.model_name,
            )
        versions.append(str(info.registered_model_version))
    v1, v2 = versions
    rows, labels = data["reference"]

    report = validate_version(registry, v1, CONTRACT, rows.head(50), make_challenger=False)
    assert report.passed, report.summary()
    registry.promote_version(v1, expected_champion=None)
    validate_version(registry, v2, CONTRACT, rows.head(50))
    state = registry.state()
    assert state == RegistryState(champion=v1, challenger=v2)

    def scores(version: str) -> np.ndarray:
        # from a copy: run in place, it would leave __pycache__ in the store (verify refuses it)
        with tempfile.TemporaryDirectory(prefix="pyfunc-") as copy:
            model = mlflow.pyfunc.load_model(registry.model_uri(version), dst_path=copy)
            return np.asarray(model.predict(rows))

    decision = compare(scores(v1), scores(v2), labels, ComparisonRule())
    after = registry.apply_decision(decision, state)
    if decision.promote:
        assert after == RegistryState(champion=v2, previous_champion=v1)
    else:
        assert after == RegistryState(champion=v1)
    assert registry.version(v2).decision == ("promoted" if decision.promote else "rejected")
