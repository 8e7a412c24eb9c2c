"""The feature contract: what churn-features produces is what churn-model consumes."""

import yaml
from conftest import REPO

from churn_features.contract import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from churn_model import ModelConfig, load_model_config, model_config_from_mapping
from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES


def test_model_defaults_are_the_feature_tables_columns() -> None:
    assert tuple(DEFAULT_NUMERIC_FEATURES) == NUMERIC_FEATURES
    assert tuple(DEFAULT_CATEGORICAL_FEATURES) == CATEGORICAL_FEATURES


def _shipped_configs() -> list[tuple[str, ModelConfig]]:
    """The library's example configs and the `model` of every model-train params file."""
    configs = [
        (str(path), load_model_config(path))
        for path in sorted((REPO / "packages" / "churn-model" / "configs").glob("*.yaml"))
    ]
    for path in sorted((REPO / "infra" / "params").rglob("model-train*.yaml")):
        model = yaml.safe_load(path.read_text())["model"]
        configs.append((str(path), model_config_from_mapping(model, source=str(path))))
    return configs


def test_every_shipped_model_config_consumes_only_produced_columns() -> None:
    configs = _shipped_configs()
    assert len(configs) >= 5
    for path, config in configs:
        assert set(config.features.numeric) <= set(NUMERIC_FEATURES), path
        assert set(config.features.categorical) <= set(CATEGORICAL_FEATURES), path
