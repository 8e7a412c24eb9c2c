"""The diagnostic plots model-train logs: five readable PNG images of the right model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from churn_jobs.plots import write_diagnostic_plots

PLOTS = {
    "roc_curve.png",
    "precision_recall_curve.png",
    "calibration_curve.png",
    "confusion_matrix.png",
    "feature_importance.png",
}


@pytest.fixture(scope="module")
def fitted() -> tuple[LogisticRegression, pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame({"tenure": rng.uniform(0, 72, 400), "noise": rng.normal(size=400)})
    churn = (rng.random(400) < 1 / (1 + np.exp(0.08 * (features["tenure"] - 24)))).astype(int)
    labels = pd.Series(churn, name="churn")
    return LogisticRegression().fit(features, labels), features, labels


def test_every_plot_is_written_as_a_png(
    fitted: tuple[LogisticRegression, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    import matplotlib.image

    model, features, labels = fitted
    written = write_diagnostic_plots(model, features, labels, 0.5, tmp_path / "plots")
    assert {p.name for p in written} == PLOTS
    for path in written:
        assert path.parent == tmp_path / "plots"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        height, width = matplotlib.image.imread(path).shape[:2]
        assert min(height, width) >= 300, path.name


def test_the_threshold_moves_only_the_confusion_matrix(
    fitted: tuple[LogisticRegression, pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    """Curves are threshold-free; the confusion matrix is drawn at the model's threshold."""
    from matplotlib.image import imread

    model, features, labels = fitted
    low = write_diagnostic_plots(model, features, labels, 0.3, tmp_path / "low")
    high = write_diagnostic_plots(model, features, labels, 0.9, tmp_path / "high")
    pixels = {
        p.name: (imread(p), imread(q)) for p, q in zip(sorted(low), sorted(high), strict=True)
    }
    for name in ("roc_curve.png", "precision_recall_curve.png", "calibration_curve.png"):
        assert np.array_equal(*pixels[name]), name
    a, b = pixels["confusion_matrix.png"]
    assert a.shape != b.shape or not np.array_equal(a, b)


def test_batched_permutation_importance_agrees_with_scikit_learns() -> None:
    """Same definition as sklearn's (drop in ROC AUC per shuffled column), other shuffles: the
    values agree within shuffle noise, an unused column scores exactly 0, and the order holds,
    also when the copies are split over several model calls."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance as sklearn_importance

    from churn_jobs.importance import permutation_importance

    rng = np.random.default_rng(1)
    features = pd.DataFrame(
        {
            "tenure": rng.uniform(0, 72, 600),
            "charges": rng.uniform(20, 120, 600),
            "unused": rng.normal(size=600),
        }
    )
    logit = -0.08 * (features["tenure"] - 24) + 0.02 * (features["charges"] - 70)
    labels = (rng.random(600) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    model = RandomForestClassifier(n_estimators=50, max_depth=4, random_state=0)
    model.fit(features[["tenure", "charges"]].assign(unused=0.0), labels)

    reference = sklearn_importance(
        model, features, labels, scoring="roc_auc", n_repeats=10, random_state=0
    )
    for max_rows in (250_000, 600):  # one call; one column's copies per call
        mean, std = permutation_importance(model, features, labels, repeats=10, max_rows=max_rows)
        np.testing.assert_allclose(mean, reference.importances_mean, atol=0.02)
        assert mean[2] == 0.0
        assert std[2] == 0.0
        assert mean[0] > mean[1] > 0


def _customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Contract columns with missing values, plus one column no model reads; churn follows
    contract, fiber, electronic check and tenure, as in the real data."""
    from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES

    rng = np.random.default_rng(seed)
    answers = ["Yes", "No", "No internet service"]
    frame = pd.DataFrame({c: rng.choice(answers, n) for c in DEFAULT_CATEGORICAL_FEATURES})
    frame["contract"] = rng.choice(["Month-to-month", "One year", "Two year"], n)
    frame["internet_service"] = rng.choice(["DSL", "Fiber optic", "No"], n)
    frame["payment_method"] = rng.choice(["Electronic check", "Mailed check", "Credit card"], n)
    for column in DEFAULT_NUMERIC_FEATURES:
        frame[column] = rng.gamma(2.0, 20.0, n)
    frame.loc[rng.random(n) < 0.05, "total_charges"] = np.nan
    frame.loc[rng.random(n) < 0.05, "tech_support"] = None
    frame["unread"] = rng.normal(size=n)
    logit = (
        1.2 * (frame["contract"] == "Month-to-month")
        + 0.8 * (frame["internet_service"] == "Fiber optic")
        + 0.5 * (frame["payment_method"] == "Electronic check")
        - 0.03 * frame["tenure"]
    )
    churn = (rng.random(n) < 1 / (1 + np.exp(-(logit - 0.8)))).astype(int).to_numpy()
    return frame, churn


ESTIMATORS = {
    "random_forest": {"kind": "random_forest", "n_estimators": 30, "max_depth": 6},
    "logistic_regression": {"kind": "logistic_regression", "C": 0.1, "max_iter": 2000},
    "hist_gradient_boosting": {"kind": "hist_gradient_boosting", "max_iter": 30},
}


@pytest.mark.parametrize("kind", sorted(ESTIMATORS))
@pytest.mark.parametrize("interactions", [False, True], ids=["plain", "interactions"])
def test_reusing_the_preprocessing_gives_exactly_the_same_importances(
    kind: str, interactions: bool
) -> None:
    """The shortcut (one preprocessing, each column's block shuffled) and preprocessing every
    shuffled copy give identical numbers, for each estimator, with and without interactions
    (whose input columns take the long way); test rows hold unseen categories and nulls."""
    from churn_jobs.importance import output_blocks, permutation_importance
    from churn_model.config import model_config_from_mapping
    from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES
    from churn_model.interactions import INTERACTIONS
    from churn_model.pipeline import build_pipeline

    features = {
        "numeric": list(DEFAULT_NUMERIC_FEATURES),
        "categorical": list(DEFAULT_CATEGORICAL_FEATURES),
        "interactions": sorted(INTERACTIONS) if interactions else [],
    }
    config = model_config_from_mapping({"estimator": ESTIMATORS[kind], "features": features})
    train, churn = _customers(1500, seed=1)
    test, labels = _customers(400, seed=2)
    test.loc[:20, "contract"] = "Three year"  # a category the encoder never saw
    model = build_pipeline(config).fit(train, churn)

    blocks = output_blocks(model, list(test.columns))
    assert blocks is not None
    mixed = {c for name in features["interactions"] for c in INTERACTIONS[name].inputs}
    assert set(blocks) == set(test.columns) - mixed
    assert blocks["unread"].size == 0  # read by no model: shuffling it changes nothing
    assert blocks["gender"].size == 3  # one-hot: a column per category seen in training

    shortcut = permutation_importance(model, test, labels, repeats=3, max_rows=5_000)
    reference = permutation_importance(
        model, test, labels, repeats=3, max_rows=5_000, reuse_preprocessing=False
    )
    np.testing.assert_array_equal(shortcut[0], reference[0])
    np.testing.assert_array_equal(shortcut[1], reference[1])
    assert shortcut[0][list(test.columns).index("unread")] == 0.0
    assert shortcut[0].max() > 0.01  # the shuffles did move the score


def test_models_of_another_shape_take_no_shortcut() -> None:
    """A bare estimator, or a transformer not known to be per-column, gets no blocks."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier

    from churn_jobs.importance import output_blocks
    from churn_model.config import model_config_from_mapping
    from churn_model.pipeline import build_pipeline

    train, churn = _customers(300, seed=3)
    numeric = ["tenure", "monthly_charges"]
    assert output_blocks(RandomForestClassifier().fit(train[numeric], churn), numeric) is None
    config = model_config_from_mapping(
        {
            "estimator": {"kind": "random_forest", "n_estimators": 5},
            "features": {"numeric": numeric, "categorical": ["contract"]},
        }
    )
    model = build_pipeline(config)
    model.steps[1][1].transformers[0][1].steps.append(("pca", PCA(n_components=1)))
    model.fit(train, churn)
    assert output_blocks(model, [*numeric, "contract"]) is None
