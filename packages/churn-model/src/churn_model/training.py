"""``split`` and ``train``: fit the configured pipeline on pandas and measure it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from churn_model.config import ModelConfig, SplitConfig
from churn_model.errors import FeatureColumnsError
from churn_model.evaluation import Metrics, as_binary_labels, evaluate
from churn_model.feature_frame import require_columns
from churn_model.pipeline import ESTIMATOR_STEP, build_estimator, build_pipeline

__all__ = ["DataSplit", "Metrics", "TrainResult", "evaluate", "split", "train"]


@dataclass(frozen=True)
class DataSplit:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


@dataclass(frozen=True)
class TrainResult:
    """A fitted pipeline, the rows it saw, and its metrics.

    ``config`` is the resolved config: when tuning ran, its estimator holds the chosen values.
    ``cv_results`` lists ``{"params": ..., "mean_score": ..., "std_score": ...}`` per candidate.
    """

    pipeline: Pipeline
    config: ModelConfig
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    train_metrics: Metrics
    test_metrics: Metrics | None
    fit_seconds: float
    best_params: dict[str, Any] | None = None
    cv_results: list[dict[str, Any]] = field(default_factory=list)


def split(features: pd.DataFrame, labels: pd.Series, split_config: SplitConfig) -> DataSplit:
    """Seeded (stratified by default) train/test split; keeps the frames' index."""
    from sklearn.model_selection import train_test_split

    y = pd.Series(
        as_binary_labels(labels, n_rows=len(features)), index=features.index, name="churn"
    )
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        y,
        test_size=split_config.test_size,
        random_state=split_config.seed,
        stratify=y if split_config.stratify else None,
    )
    return DataSplit(x_train, x_test, y_train, y_test)


def train(
    features: pd.DataFrame,
    labels: pd.Series,
    config: ModelConfig,
    split: SplitConfig | None = None,
) -> TrainResult:
    """Split (``split`` or ``config.split``), tune on training rows if configured, fit, evaluate.

    ``features`` needs the config's feature columns (others, e.g. ``customer_id``, are ignored);
    ``labels`` is one 0/1 value per row, in the same order.
    """
    require_columns(features, config.features.columns, what="training features")
    parts = _split(features, labels, split or config.split)
    if len(np.unique(parts.y_train)) < 2:
        raise FeatureColumnsError("training labels contain one class only; need churners and not")
    started = time.perf_counter()
    resolved, best_params, cv_results = _tune(config, parts.X_train, parts.y_train)
    pipeline = build_pipeline(resolved)
    pipeline.fit(parts.X_train, parts.y_train)
    fit_seconds = time.perf_counter() - started
    _predict_single_threaded(pipeline)
    return TrainResult(
        pipeline=pipeline,
        config=resolved,
        X_train=parts.X_train,
        X_test=parts.X_test,
        y_train=parts.y_train,
        y_test=parts.y_test,
        train_metrics=evaluate(pipeline, parts.X_train, parts.y_train, resolved.threshold),
        test_metrics=(
            evaluate(pipeline, parts.X_test, parts.y_test, resolved.threshold)
            if len(parts.X_test)
            else None
        ),
        fit_seconds=fit_seconds,
        best_params=best_params,
        cv_results=cv_results,
    )


def _predict_single_threaded(pipeline: Pipeline) -> None:
    """``n_jobs`` is the fit's parallelism only: the fitted model predicts in one thread.

    Scoring is parallel already (Spark runs a Python worker per core), so threads per prediction
    would oversubscribe the cores; and a one-row request of the serving service would pay for
    dispatching to a thread pool. A random forest's trees do not depend on
    ``n_jobs`` (scikit-learn seeds each tree up front), so the model is the same either way."""
    estimator = pipeline.named_steps[ESTIMATOR_STEP]
    if "n_jobs" in estimator.get_params():
        estimator.set_params(n_jobs=None)


def _split(features: pd.DataFrame, labels: pd.Series, split_config: SplitConfig) -> DataSplit:
    return split(features, labels, split_config)


def _tune(
    config: ModelConfig, x_train: pd.DataFrame, y_train: pd.Series
) -> tuple[ModelConfig, dict[str, Any] | None, list[dict[str, Any]]]:
    """Grid search by stratified K-fold on the training rows only; returns the resolved config."""
    if config.tuning is None:
        return config, None, []
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    tuning = config.tuning
    candidates = config.tuning_candidates  # validated once, by ModelConfig
    configs = [config.model_copy(update={"estimator": c.estimator}) for c in candidates]
    search = GridSearchCV(
        build_pipeline(config),
        {ESTIMATOR_STEP: [build_estimator(c) for c in configs]},
        scoring=tuning.scoring,
        cv=StratifiedKFold(tuning.cv_folds, shuffle=True, random_state=tuning.seed),
        refit=False,
    )
    search.fit(x_train, y_train)
    best = int(search.best_index_)
    cv_results = [
        {
            "params": candidates[i].params,
            "mean_score": float(search.cv_results_["mean_test_score"][i]),
            "std_score": float(search.cv_results_["std_test_score"][i]),
        }
        for i in range(len(candidates))
    ]
    return configs[best], candidates[best].params, cv_results
