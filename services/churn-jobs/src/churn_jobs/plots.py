"""Diagnostic plots of a trained model, written as PNG files for MLflow artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def write_diagnostic_plots(
    model: Any,
    features: pd.DataFrame,
    labels: pd.Series,
    threshold: float,
    out_dir: Path,
    importance_repeats: int = 3,
    seed: int = 0,
) -> list[Path]:
    """ROC, precision-recall, calibration, confusion matrix and permutation importance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    from churn_jobs.importance import permutation_importance

    out_dir.mkdir(parents=True, exist_ok=True)
    proba = model.predict_proba(features)[:, 1]
    y = labels.to_numpy()
    written = []

    def save(fig: Any, name: str) -> None:
        path = out_dir / name
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)

    fig, ax = plt.subplots(figsize=(5, 5))
    RocCurveDisplay.from_predictions(y, proba, ax=ax, name="test")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    save(fig, "roc_curve.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    PrecisionRecallDisplay.from_predictions(y, proba, ax=ax, name="test")
    save(fig, "precision_recall_curve.png")

    fig, ax = plt.subplots(figsize=(5, 5))
    CalibrationDisplay.from_predictions(y, proba, n_bins=10, ax=ax, name="test")
    save(fig, "calibration_curve.png")

    fig, ax = plt.subplots(figsize=(5, 4))
    ConfusionMatrixDisplay.from_predictions(
        y, (proba >= threshold).astype(int), ax=ax, display_labels=["stay", "churn"]
    )
    ax.set_title(f"threshold {threshold}")
    save(fig, "confusion_matrix.png")

    mean, std = permutation_importance(model, features, y, repeats=importance_repeats, seed=seed)
    order = np.argsort(mean)
    fig, ax = plt.subplots(figsize=(6, 7))
    ax.barh(np.array(features.columns)[order], mean[order], xerr=std[order])
    ax.set_xlabel("drop in test ROC AUC when shuffled")
    ax.set_title("permutation feature importance")
    save(fig, "feature_importance.png")
    return written
