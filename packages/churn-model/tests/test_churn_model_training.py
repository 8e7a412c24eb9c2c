from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.metrics import roc_auc_score

from churn_model import ModelConfig, build_pipeline, evaluate, model_config_from_mapping, train
from churn_model.errors import FeatureColumnsError
from churn_model.evaluation import metrics_from_proba
from churn_model.interactions import INTERACTIONS
from churn_model.serialization import TRUSTED_TYPES
from churn_model.training import TrainResult, split

Customers = tuple[pd.DataFrame, pd.Series]


def test_train_splits_stratified_and_reports_both_metric_sets(
    customers: Customers, trained: TrainResult
) -> None:
    features, labels = customers
    assert len(trained.X_test) == round(0.25 * len(features))
    assert set(trained.X_train.index).isdisjoint(trained.X_test.index)
    assert abs(trained.y_test.mean() - labels.mean()) < 0.01  # stratified
    assert trained.test_metrics is not None
    assert trained.test_metrics.n_rows == len(trained.X_test)
    assert trained.train_metrics.n_rows == len(trained.X_train)
    assert trained.test_metrics.threshold == 0.4
    # the synthetic churn has real signal: a working pipeline ranks far better than chance
    assert trained.test_metrics.roc_auc > 0.7


def test_split_is_seeded(customers: Customers) -> None:
    features, labels = customers
    config = model_config_from_mapping({"estimator": {"kind": "random_forest"}})
    first, again = split(features, labels, config.split), split(features, labels, config.split)
    other = split(features, labels, config.split.model_copy(update={"seed": 1}))
    assert first.X_test.index.equals(again.X_test.index)
    assert not first.X_test.index.equals(other.X_test.index)


@pytest.mark.parametrize("kind", ["random_forest", "logistic_regression", "hist_gradient_boosting"])
def test_every_estimator_predicts_probabilities(customers: Customers, kind: str) -> None:
    features, labels = customers
    small = {"random_forest": {"n_estimators": 20}, "hist_gradient_boosting": {"max_iter": 30}}
    config = model_config_from_mapping(
        {
            "estimator": {"kind": kind, **small.get(kind, {})},
            "features": {"interactions": list(INTERACTIONS)},
        }
    )
    result = train(features, labels, config)
    proba = result.pipeline.predict_proba(result.X_test)[:, 1]
    assert proba.dtype == np.float64
    assert ((proba >= 0) & (proba <= 1)).all()
    assert len(np.unique(proba)) > 10  # probabilities, not labels
    # the pipeline holds no type beyond skops' defaults and churn-model's trusted list
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(result.pipeline))
    assert set(untrusted) <= set(TRUSTED_TYPES)


def test_n_jobs_parallelizes_the_fit_only_and_gives_the_same_forest(customers: Customers) -> None:
    """The fitted model predicts in one thread (scoring is parallel across Spark's workers, and
    a one-row request must not dispatch to a thread pool), and its trees are those of a
    single-threaded fit."""
    from churn_model.pipeline import ESTIMATOR_STEP

    features, labels = customers

    def fitted(n_jobs: int | None) -> TrainResult:
        estimator = {"kind": "random_forest", "n_estimators": 30, "n_jobs": n_jobs}
        return train(features, labels, model_config_from_mapping({"estimator": estimator}))

    parallel, serial = fitted(2), fitted(None)
    assert parallel.config.estimator.n_jobs == 2, "the config records how it was fitted"
    assert parallel.pipeline.named_steps[ESTIMATOR_STEP].n_jobs is None
    np.testing.assert_array_equal(
        parallel.pipeline.predict_proba(serial.X_test), serial.pipeline.predict_proba(serial.X_test)
    )


def test_extra_columns_and_column_order_do_not_matter(trained: TrainResult) -> None:
    shuffled = trained.X_test[list(reversed(trained.X_test.columns))].assign(extra="x")
    np.testing.assert_allclose(
        trained.pipeline.predict_proba(shuffled), trained.pipeline.predict_proba(trained.X_test)
    )


def test_unseen_category_at_predict_time_is_ignored(trained: TrainResult) -> None:
    rows = trained.X_test.head(20).copy()
    rows["payment_method"] = "Cryptocurrency"
    rows["contract"] = "Ten year"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Found unknown categories")
        proba = trained.pipeline.predict_proba(rows)[:, 1]
    assert np.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()


def test_nulls_are_imputed(trained: TrainResult) -> None:
    rows = trained.X_test.head(10).copy()
    rows.loc[rows.index[:5], "total_charges"] = np.nan
    rows.loc[rows.index[:5], "partner"] = None
    proba = trained.pipeline.predict_proba(rows)[:, 1]
    assert np.isfinite(proba).all()


def test_missing_feature_columns_are_named(customers: Customers, lr_config: ModelConfig) -> None:
    features, labels = customers
    with pytest.raises(FeatureColumnsError, match=r"\['tenure', 'contract'\]"):
        train(features.drop(columns=["tenure", "contract"]), labels, lr_config)
    pipeline = train(features, labels, lr_config).pipeline
    with pytest.raises(FeatureColumnsError, match=r"lacks the feature column\(s\) \['gender'\]"):
        pipeline.predict_proba(features.drop(columns=["gender"]))


def test_labels_must_be_binary_and_aligned(customers: Customers, lr_config: ModelConfig) -> None:
    features, labels = customers
    with pytest.raises(FeatureColumnsError, match="0/1"):
        train(features, labels.map({0: "No", 1: "Yes"}), lr_config)
    with pytest.raises(FeatureColumnsError, match="rows"):
        train(features, labels.iloc[:-1], lr_config)


def test_metrics_use_probabilities_not_hard_labels(trained: TrainResult) -> None:
    metrics = evaluate(trained.pipeline, trained.X_test, trained.y_test, threshold=0.4)
    proba = trained.pipeline.predict_proba(trained.X_test)[:, 1]
    assert metrics.roc_auc == pytest.approx(roc_auc_score(trained.y_test, proba))
    hard_auc = roc_auc_score(trained.y_test, (proba >= 0.4).astype(int))
    assert metrics.roc_auc != pytest.approx(hard_auc, abs=1e-3)
    assert metrics == trained.test_metrics


def test_metrics_on_a_known_case() -> None:
    y = np.array([0, 0, 1, 1])
    proba = np.array([0.1, 0.6, 0.4, 0.9])
    metrics = metrics_from_proba(y, proba, threshold=0.5)
    assert metrics.roc_auc == pytest.approx(0.75)  # 3 of 4 positive/negative pairs ordered
    assert metrics.brier == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert (metrics.precision, metrics.recall, metrics.f1) == (0.5, 0.5, 0.5)
    assert metrics.positive_rate == 0.5
    assert metrics.as_flat_dict("test_")["test_roc_auc"] == pytest.approx(0.75)


def test_tuning_uses_training_rows_only(customers: Customers) -> None:
    features, labels = customers
    config = model_config_from_mapping(
        {
            "estimator": {"kind": "logistic_regression"},
            "tuning": {"grid": {"C": [0.001, 1.0]}, "cv_folds": 3},
            # unstratified, so the split below does not depend on the labels we scramble
            "split": {"stratify": False},
        }
    )
    result = train(features, labels, config)
    assert result.best_params is not None
    assert result.best_params["C"] in (0.001, 1.0)
    assert result.best_params["C"] == result.config.estimator.C  # type: ignore[union-attr]
    assert [r["params"]["C"] for r in result.cv_results] == [0.001, 1.0]
    # scrambling the held-out rows' labels changes nothing in the search: it never saw them
    scrambled = labels.copy()
    scrambled.loc[result.X_test.index] = 1 - scrambled.loc[result.X_test.index]
    again = train(features, scrambled, config)
    assert again.X_test.index.equals(result.X_test.index)
    assert again.cv_results == result.cv_results
    assert again.test_metrics != result.test_metrics
    # fitting the chosen C directly on the same training rows gives the same model
    direct = build_pipeline(result.config).fit(result.X_train, result.y_train)
    np.testing.assert_allclose(
        direct.predict_proba(result.X_test), result.pipeline.predict_proba(result.X_test)
    )
