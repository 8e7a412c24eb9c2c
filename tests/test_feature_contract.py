"""The feature contract: what churn-features produces is what churn-model consumes."""

from conftest import REPO

from churn_features.contract import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churn_model import ModelConfig, load_model_config
from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES


def test_model_defaults_are_the_feature_tables_columns() -> None:
    assert tuple(DEFAULT_NUMERIC_FEATURES) == NUMERIC_FEATURES
    assert tuple(DEFAULT_CATEGORICAL_FEATURES) == CATEGORICAL_FEATURES


def test_every_shipped_model_config_consumes_only_produced_columns() -> None:
    produced = set(NUMERIC_FEATURES) | set(CATEGORICAL_FEATURES)
    configs = sorted((REPO / "packages" / "churn-model" / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        config: ModelConfig = load_model_config(path)
        assert set(config.features.numeric) <= set(NUMERIC_FEATURES), path
        assert set(config.features.categorical) <= set(CATEGORICAL_FEATURES), path
        assert set(config.features.numeric) | set(config.features.categorical) <= produced
