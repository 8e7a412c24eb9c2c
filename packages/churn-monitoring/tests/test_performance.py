"""Realized-performance metrics from aggregated counts against scikit-learn on the same rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    roc_auc_score,
)

from churn_monitoring.performance import (
    ECE_BINS,
    empty_performance,
    metrics,
    performance_counts,
)

RNG = np.random.default_rng(3)


def labelled(n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    p = np.round(RNG.uniform(0, 1, n), 4)  # at most 4 decimals: the rounding loses nothing
    y = (RNG.uniform(0, 1, n) < p).astype(float)
    return y, p


def ece_reference(y: np.ndarray, p: np.ndarray) -> float:
    bins = np.minimum(np.floor(p * ECE_BINS), ECE_BINS - 1)
    return float(
        sum(
            np.sum(bins == b) / len(p) * abs(y[bins == b].mean() - p[bins == b].mean())
            for b in np.unique(bins)
        )
    )


def test_metrics_match_scikit_learn() -> None:
    y, p = labelled()
    m = metrics(performance_counts(y, p, threshold=0.5))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-9)
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p), abs=1e-9)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert m["ece"] == pytest.approx(ece_reference(y, p), abs=1e-12)
    tn, fp, fn, tp = confusion_matrix(y, p >= 0.5).ravel()
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)


def test_counts_add_up_like_the_rows() -> None:
    y, p = labelled()
    whole = performance_counts(y, p, 0.4)
    parts = performance_counts(y[:1000], p[:1000], 0.4) + performance_counts(
        y[1000:], p[1000:], 0.4
    )
    for key, value in metrics(whole).items():
        assert metrics(parts)[key] == pytest.approx(value, abs=1e-9), key


def test_rounded_continuous_scores_stay_close() -> None:
    p = RNG.uniform(0, 1, 5000)
    y = (RNG.uniform(0, 1, 5000) < p).astype(float)
    m = metrics(performance_counts(y, p, 0.5, decimals=4))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-3)
    assert m["log_loss"] == pytest.approx(log_loss(y, p), abs=1e-9)  # not from rounded scores


def test_undefined_metrics_are_nan() -> None:
    assert math.isnan(metrics(empty_performance())["roc_auc"])
    one_class = metrics(performance_counts(np.ones(10), RNG.uniform(0, 1, 10), 0.5))
    assert math.isnan(one_class["roc_auc"])
    assert math.isnan(one_class["pr_auc"])
    assert one_class["brier"] >= 0
