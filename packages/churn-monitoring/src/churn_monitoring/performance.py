"""Realized performance from aggregated counts, once labels exist for a window's customers.

The Spark side groups labelled rows by (score rounded to ``decimals``, label, calibration bin,
predicted class) and sums the per-row log loss and Brier terms, so:

- ``log_loss``, ``brier``, ``ece`` and the confusion counts at the threshold are exact;
- ``roc_auc`` and ``pr_auc`` (average precision, as scikit-learn defines it) are exact when the
  scores have at most ``decimals`` decimals, else computed on the rounded scores (ties count
  half, so the error is bounded by the share of positive/negative pairs whose scores round
  together).

Every metric is NaN when it is undefined (no labels; one class only for the two AUCs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from churn_monitoring.histograms import FloatArray

ECE_BINS = 10
#: probabilities are clipped to [eps, 1 - eps] in the log loss (scikit-learn's rule for float64)
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class PerformanceCounts:
    scores: FloatArray  # sorted distinct (rounded) scores
    positives: FloatArray  # labelled 1 at each score
    negatives: FloatArray  # labelled 0 at each score
    log_loss_sum: float
    brier_sum: float
    ece_count: FloatArray  # ECE_BINS
    ece_probability_sum: FloatArray
    ece_label_sum: FloatArray
    tp: float
    fp: float
    tn: float
    fn: float

    @property
    def count(self) -> float:
        return float(self.positives.sum() + self.negatives.sum())

    def __add__(self, other: PerformanceCounts) -> PerformanceCounts:
        scores = np.unique(np.concatenate([self.scores, other.scores]))

        def spread(h: PerformanceCounts, values: FloatArray) -> FloatArray:
            out = np.zeros(len(scores))
            out[np.searchsorted(scores, h.scores)] = values
            return out

        return PerformanceCounts(
            scores=scores,
            positives=spread(self, self.positives) + spread(other, other.positives),
            negatives=spread(self, self.negatives) + spread(other, other.negatives),
            log_loss_sum=self.log_loss_sum + other.log_loss_sum,
            brier_sum=self.brier_sum + other.brier_sum,
            ece_count=self.ece_count + other.ece_count,
            ece_probability_sum=self.ece_probability_sum + other.ece_probability_sum,
            ece_label_sum=self.ece_label_sum + other.ece_label_sum,
            tp=self.tp + other.tp,
            fp=self.fp + other.fp,
            tn=self.tn + other.tn,
            fn=self.fn + other.fn,
        )


def empty_performance() -> PerformanceCounts:
    zeros = np.zeros(ECE_BINS)
    return PerformanceCounts(
        np.zeros(0), np.zeros(0), np.zeros(0), 0.0, 0.0, zeros, zeros, zeros, 0, 0, 0, 0
    )


def ece_bin(probability: FloatArray) -> npt.NDArray[np.int64]:
    return np.minimum(np.floor(probability * ECE_BINS), ECE_BINS - 1).astype(np.int64)


def performance_counts(
    labels: npt.ArrayLike, probabilities: npt.ArrayLike, threshold: float, decimals: int = 4
) -> PerformanceCounts:
    """numpy twin of the Spark aggregation (``aggregate.performance_frame``)."""
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(probabilities, dtype=np.float64)
    rounded = np.round(p, decimals)
    scores, index = np.unique(rounded, return_inverse=True)
    clipped = np.clip(p, LOG_LOSS_EPS, 1 - LOG_LOSS_EPS)
    bins = ece_bin(p)
    predicted = p >= threshold
    return PerformanceCounts(
        scores=scores.astype(np.float64),
        positives=np.bincount(index, weights=y, minlength=len(scores)),
        negatives=np.bincount(index, weights=1 - y, minlength=len(scores)),
        log_loss_sum=float(-np.sum(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))),
        brier_sum=float(np.sum((p - y) ** 2)),
        ece_count=np.bincount(bins, minlength=ECE_BINS).astype(np.float64),
        ece_probability_sum=np.bincount(bins, weights=p, minlength=ECE_BINS),
        ece_label_sum=np.bincount(bins, weights=y, minlength=ECE_BINS),
        tp=float(np.sum(predicted & (y == 1))),
        fp=float(np.sum(predicted & (y == 0))),
        tn=float(np.sum(~predicted & (y == 0))),
        fn=float(np.sum(~predicted & (y == 1))),
    )


def roc_auc(c: PerformanceCounts) -> float:
    pos, neg = c.positives[::-1], c.negatives[::-1]  # descending score
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    tpr = np.concatenate([[0.0], np.cumsum(pos) / pos.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(neg) / neg.sum()])
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def pr_auc(c: PerformanceCounts) -> float:
    """Average precision: sum over thresholds of (R_n - R_{n-1}) * P_n (scikit-learn's)."""
    pos, neg = c.positives[::-1], c.negatives[::-1]
    if pos.sum() == 0 or neg.sum() == 0:
        return float("nan")
    tp, fp = np.cumsum(pos), np.cumsum(neg)
    precision = tp / (tp + fp)
    recall = tp / pos.sum()
    return float(np.sum(np.diff(np.concatenate([[0.0], recall])) * precision))


def expected_calibration_error(c: PerformanceCounts) -> float:
    n = c.ece_count.sum()
    if not n:
        return float("nan")
    occupied = c.ece_count > 0
    gap = np.abs(
        c.ece_label_sum[occupied] - c.ece_probability_sum[occupied]
    )  # n_b * |mean label - mean probability|
    return float(gap.sum() / n)


def metrics(c: PerformanceCounts) -> dict[str, float]:
    n = c.count
    return {
        "labelled_count": n,
        "roc_auc": roc_auc(c),
        "pr_auc": pr_auc(c),
        "log_loss": c.log_loss_sum / n if n else float("nan"),
        "brier": c.brier_sum / n if n else float("nan"),
        "ece": expected_calibration_error(c),
        "tp": c.tp,
        "fp": c.fp,
        "tn": c.tn,
        "fn": c.fn,
    }
