from __future__ import annotations

from pathlib import Path

import pytest
from churn_model_data import CONFIGS_DIR

from churn_model import load_model_config, model_config_from_mapping
from churn_model.config import LogisticRegressionConfig, RandomForestConfig
from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES
from churn_model.errors import ModelConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "model.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "kind", "max_depth"),
    [
        ("random_forest_depth4", "random_forest", 4),
        ("random_forest_depth8", "random_forest", 8),
        ("recommended", "logistic_regression", None),
    ],
)
def test_shipped_configs_load(name: str, kind: str, max_depth: int | None) -> None:
    config = load_model_config(CONFIGS_DIR / f"{name}.yaml")
    assert config.estimator.kind == kind
    assert getattr(config.estimator, "max_depth", None) == max_depth
    assert config.features.numeric == list(DEFAULT_NUMERIC_FEATURES)
    assert config.features.categorical == list(DEFAULT_CATEGORICAL_FEATURES)
    assert (config.split.test_size, config.split.seed, config.split.stratify) == (0.25, 42, True)


def test_defaults_are_the_contract_and_the_seed_split() -> None:
    config = model_config_from_mapping({"estimator": {"kind": "random_forest"}})
    assert isinstance(config.estimator, RandomForestConfig)
    assert config.features.columns == [*DEFAULT_NUMERIC_FEATURES, *DEFAULT_CATEGORICAL_FEATURES]
    assert config.threshold == 0.5
    assert config.tuning is None


def test_unknown_top_level_key_names_the_key_file_and_allowed_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "estimator: {kind: random_forest}\nthreshhold: 0.4\n")
    with pytest.raises(ModelConfigError) as info:
        load_model_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "`threshhold`: unknown key" in message
    assert "threshold" in message.split("allowed keys here:")[1]


def test_unknown_estimator_key_is_reported_without_the_union_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "estimator: {kind: random_forest, n_trees: 10}\n")
    with pytest.raises(ModelConfigError, match=r"`estimator\.n_trees`: unknown key") as info:
        load_model_config(path)
    assert "n_estimators" in str(info.value)


def test_max_features_auto_explains_its_removal() -> None:
    with pytest.raises(ModelConfigError) as info:
        model_config_from_mapping({"estimator": {"kind": "random_forest", "max_features": "auto"}})
    message = str(info.value)
    assert "`estimator.max_features`" in message
    assert "removed from scikit-learn" in message
    assert "max_features: sqrt" in message


@pytest.mark.parametrize("value", [0.0, 1.0, 1.5, -0.1])
def test_threshold_must_be_inside_the_unit_interval(value: float) -> None:
    with pytest.raises(ModelConfigError, match=r"`threshold`: Input should be (greater|less)"):
        model_config_from_mapping({"estimator": {"kind": "random_forest"}, "threshold": value})


def test_unknown_kind_lists_the_known_kinds() -> None:
    with pytest.raises(ModelConfigError) as info:
        model_config_from_mapping({"estimator": {"kind": "xgboost"}})
    message = str(info.value)
    assert "unknown estimator kind 'xgboost'" in message
    for kind in ("random_forest", "logistic_regression", "hist_gradient_boosting"):
        assert kind in message


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ModelConfigError, match="2 problems") as info:
        model_config_from_mapping(
            {"estimator": {"kind": "random_forest", "max_depth": 0}, "threshold": 2}
        )
    assert "`estimator.max_depth`" in str(info.value)
    assert "`threshold`" in str(info.value)


def test_interaction_needs_its_input_columns() -> None:
    with pytest.raises(ModelConfigError, match=r"contract_x_fiber.*needs input column"):
        model_config_from_mapping(
            {
                "estimator": {"kind": "logistic_regression"},
                "features": {"categorical": ["gender"], "interactions": ["contract_x_fiber"]},
            }
        )


def test_a_column_cannot_be_both_numeric_and_categorical() -> None:
    with pytest.raises(ModelConfigError, match="listed twice"):
        model_config_from_mapping(
            {
                "estimator": {"kind": "random_forest"},
                "features": {"numeric": ["tenure"], "categorical": ["tenure"]},
            }
        )


def test_tuning_grid_is_checked_against_the_estimator() -> None:
    with pytest.raises(ModelConfigError, match="not fields of estimator kind"):
        model_config_from_mapping(
            {"estimator": {"kind": "logistic_regression"}, "tuning": {"grid": {"alpha": [1]}}}
        )
    with pytest.raises(ModelConfigError, match=r"candidate .* is invalid"):
        model_config_from_mapping(
            {"estimator": {"kind": "logistic_regression"}, "tuning": {"grid": {"C": [1, -1]}}}
        )


def test_tuning_candidates_are_the_validated_grid() -> None:
    config = model_config_from_mapping(
        {
            "estimator": {"kind": "logistic_regression", "C": 0.5},
            "tuning": {"grid": {"C": [1, 10], "class_weight": [None, "balanced"]}},
        }
    )
    candidates = config.tuning_candidates
    assert [c.params for c in candidates] == [
        {"C": 1, "class_weight": None},
        {"C": 1, "class_weight": "balanced"},
        {"C": 10, "class_weight": None},
        {"C": 10, "class_weight": "balanced"},
    ]
    # typed estimator configs: the grid's ints became the field's floats, the rest is the base
    assert all(isinstance(c.estimator.C, float) for c in candidates)  # type: ignore[union-attr]
    assert {c.estimator.max_iter for c in candidates} == {2000}  # type: ignore[union-attr]
    untuned = model_config_from_mapping({"estimator": {"kind": "random_forest"}})
    assert untuned.tuning_candidates == ()


def test_elasticnet_needs_l1_ratio() -> None:
    with pytest.raises(ModelConfigError, match="needs l1_ratio"):
        model_config_from_mapping(
            {"estimator": {"kind": "logistic_regression", "penalty": "elasticnet"}}
        )
    config = model_config_from_mapping(
        {"estimator": {"kind": "logistic_regression", "penalty": "elasticnet", "l1_ratio": 0.5}}
    )
    assert isinstance(config.estimator, LogisticRegressionConfig)


def test_missing_file_and_bad_yaml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="does not exist"):
        load_model_config(tmp_path / "absent.yaml")
    with pytest.raises(ModelConfigError, match="not valid YAML"):
        load_model_config(write(tmp_path, "estimator: [unclosed\n"))
    with pytest.raises(ModelConfigError, match="expected a mapping"):
        load_model_config(write(tmp_path, "- just a list\n"))


def test_config_round_trips_through_yaml(tmp_path: Path) -> None:
    config = load_model_config(CONFIGS_DIR / "recommended.yaml")
    assert load_model_config(write(tmp_path, config.to_yaml())) == config
