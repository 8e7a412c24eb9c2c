"""``evaluate``: classification metrics computed from predicted probabilities."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from churn_model.errors import FeatureColumnsError


class ProbabilisticModel(Protocol):
    def predict_proba(self, features: Any, /) -> Any: ...


class Metrics(BaseModel):
    """Ranking metrics (roc_auc, pr_auc) and proper scores (log_loss, brier) use probabilities;
    f1/precision/recall use the label at ``threshold``. AUCs are NaN when one class is absent."""

    model_config = ConfigDict(frozen=True)

    roc_auc: float
    pr_auc: float
    log_loss: float
    brier: float
    f1: float
    precision: float
    recall: float
    threshold: float
    n_rows: int
    positive_rate: float

    def as_flat_dict(self, prefix: str = "") -> dict[str, float]:
        """``{prefix + name: value}``, ready for ``mlflow.log_metrics``."""
        return {f"{prefix}{k}": float(v) for k, v in self.model_dump().items()}


def positive_proba(model: ProbabilisticModel, features: pd.DataFrame) -> np.ndarray:
    """Churn probability (float64, 1-d) from any fitted binary classifier/pipeline."""
    proba = np.asarray(model.predict_proba(features), dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != 2:
        raise ValueError(f"expected predict_proba of shape (n, 2), got {proba.shape}")
    return proba[:, 1]


def evaluate(
    model: ProbabilisticModel,
    features: pd.DataFrame,
    labels: pd.Series,
    threshold: float = 0.5,
) -> Metrics:
    """Score ``model`` on ``features`` against 0/1 ``labels`` (always from predict_proba)."""
    y = as_binary_labels(labels, n_rows=len(features))
    return metrics_from_proba(y, positive_proba(model, features), threshold)


def _hard(proba: np.ndarray, threshold: float) -> np.ndarray:
    return (np.asarray(proba) >= threshold).astype(np.int64)


def _score_functions() -> dict[str, Callable[[np.ndarray, np.ndarray, float], float]]:
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        brier_score_loss,
        f1_score,
        log_loss,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    return {
        "roc_auc": lambda y, p, t: float(roc_auc_score(y, p)),
        "pr_auc": lambda y, p, t: float(average_precision_score(y, p)),
        "log_loss": lambda y, p, t: float(log_loss(y, p, labels=[0, 1])),
        "brier": lambda y, p, t: float(brier_score_loss(y, p, pos_label=1)),
        "f1": lambda y, p, t: float(f1_score(y, _hard(p, t), zero_division=0)),
        "precision": lambda y, p, t: float(precision_score(y, _hard(p, t), zero_division=0)),
        "recall": lambda y, p, t: float(recall_score(y, _hard(p, t), zero_division=0)),
        "accuracy": lambda y, p, t: float(accuracy_score(y, _hard(p, t))),
    }


#: Every metric churn-model knows, from probabilities: ranking metrics and proper scores use
#: them as they are, f1/precision/recall/accuracy use the label at ``threshold``.
METRIC_NAMES: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "f1",
    "precision",
    "recall",
    "accuracy",
)
_SCORERS: dict[str, Callable[[np.ndarray, np.ndarray, float], float]] = {}


def score(name: str, y_true: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> float:
    """One metric (a name from ``METRIC_NAMES``) of 0/1 ``y_true`` against probabilities.

    No NaN handling: ranking metrics raise on a single class, as scikit-learn does.
    """
    if not _SCORERS:
        _SCORERS.update(_score_functions())
    return _SCORERS[name](y_true, proba, threshold)


def metrics_from_proba(y_true: np.ndarray, proba: np.ndarray, threshold: float) -> Metrics:
    y_true = np.asarray(y_true, dtype=np.int64)
    both_classes = len(np.unique(y_true)) == 2
    return Metrics(
        roc_auc=score("roc_auc", y_true, proba) if both_classes else math.nan,
        pr_auc=score("pr_auc", y_true, proba) if both_classes else math.nan,
        log_loss=score("log_loss", y_true, proba),
        brier=score("brier", y_true, proba),
        f1=score("f1", y_true, proba, threshold),
        precision=score("precision", y_true, proba, threshold),
        recall=score("recall", y_true, proba, threshold),
        threshold=float(threshold),
        n_rows=len(y_true),
        positive_rate=float(y_true.mean()) if len(y_true) else math.nan,
    )


def as_binary_labels(labels: pd.Series | np.ndarray, *, n_rows: int) -> np.ndarray:
    """Labels as an int64 0/1 array, or ``FeatureColumnsError`` saying what is wrong."""
    values = pd.Series(labels)
    if len(values) != n_rows:
        raise FeatureColumnsError(
            f"labels have {len(values)} rows but features have {n_rows}; "
            "fix: pass one label per feature row, in the same order"
        )
    if values.isna().any():
        raise FeatureColumnsError(
            f"labels contain {int(values.isna().sum())} null value(s); drop unlabelled rows first"
        )
    if values.dtype == bool:
        values = values.astype(np.int64)
    bad = sorted({v for v in values.unique().tolist() if v not in (0, 1)}, key=str)
    if bad:
        raise FeatureColumnsError(
            f"labels must be 0/1 (churn), found other values {bad[:5]}; "
            "fix: map 'Yes'/'No' to 1/0 before training"
        )
    return values.to_numpy(dtype=np.int64)
