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
