"""Job parameters are parsed once, into the libraries' own types."""

from __future__ import annotations

import pytest

from churn_jobs.jobs import model_deployment, model_train
from churn_model import ModelConfig
from churn_model.errors import ModelConfigError
from churn_registry_ops import ComparisonRule


def test_model_train_params_hold_the_parsed_model_config() -> None:
    params = model_train.Params.model_validate(
        {"model": {"estimator": {"kind": "random_forest", "max_depth": 8}}}
    )
    assert isinstance(params.model, ModelConfig)
    assert params.model.estimator.kind == "random_forest"
    assert params.model.estimator.max_depth == 8  # type: ignore[union-attr]
    # an already-parsed config is taken as it is
    assert model_train.Params(model=params.model).model is params.model


def test_a_bad_model_config_is_churn_models_own_message() -> None:
    expected = r"(?s)model-train parameters `model`.*`estimator\.depth`: unknown key"
    with pytest.raises(ModelConfigError, match=expected):
        model_train.Params.model_validate(
            {"model": {"estimator": {"kind": "random_forest", "depth": 3}}}
        )


def test_model_deployment_params_hold_the_parsed_rule() -> None:
    assert model_deployment.Params().rule == ComparisonRule()
    params = model_deployment.Params.model_validate(
        {"rule": {"metric": "log_loss", "min_improvement": 0.01}}
    )
    assert isinstance(params.rule, ComparisonRule)
    assert params.rule.metric == "log_loss"
