"""``build_pipeline``: the sklearn Pipeline a ``ModelConfig`` describes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from churn_model.config import (
    HistGradientBoostingConfig,
    LogisticRegressionConfig,
    ModelConfig,
    RandomForestConfig,
)
from churn_model.feature_frame import FeatureFrame
from churn_model.interactions import INTERACTIONS

ESTIMATOR_STEP = "classifier"


def build_pipeline(config: ModelConfig) -> Pipeline:
    """features -> (impute [+ scale] numeric | impute + one-hot categorical) -> estimator.

    Column roles come from the config (the feature contract), never from dtypes seen at fit time.
    """
    features = config.features
    numeric = [*features.numeric, *_engineered(features.interactions, "numeric")]
    categorical = [*features.categorical, *_engineered(features.interactions, "categorical")]
    scale = isinstance(config.estimator, LogisticRegressionConfig)
    numeric_steps: list[tuple[str, object]] = [("impute", SimpleImputer(strategy="median"))]
    if scale:
        numeric_steps.append(("scale", StandardScaler()))
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), numeric))
    if categorical:
        categorical_steps = Pipeline(
            [
                ("impute", SimpleImputer(strategy="most_frequent")),
                (
                    "one_hot",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                ),
            ]
        )
        transformers.append(("categorical", categorical_steps, categorical))
    return Pipeline(
        [
            (
                "features",
                FeatureFrame(
                    numeric=list(features.numeric),
                    categorical=list(features.categorical),
                    interactions=list(features.interactions),
                ),
            ),
            ("preprocess", ColumnTransformer(transformers, remainder="drop")),
            (ESTIMATOR_STEP, build_estimator(config)),
        ]
    )


def build_estimator(
    config: ModelConfig,
) -> RandomForestClassifier | LogisticRegression | HistGradientBoostingClassifier:
    estimator = config.estimator
    if isinstance(estimator, RandomForestConfig):
        return RandomForestClassifier(
            n_estimators=estimator.n_estimators,
            max_depth=estimator.max_depth,
            min_samples_leaf=estimator.min_samples_leaf,
            max_features=estimator.max_features,
            random_state=estimator.random_state,
            class_weight=estimator.class_weight,
            n_jobs=estimator.n_jobs,
        )
    if isinstance(estimator, LogisticRegressionConfig):
        # scikit-learn >= 1.8 expresses the penalty through l1_ratio ('penalty' is deprecated).
        l1_ratio = {"l2": 0.0, "l1": 1.0}.get(estimator.penalty, estimator.l1_ratio)
        return LogisticRegression(
            C=estimator.C,
            l1_ratio=l1_ratio,
            solver="lbfgs" if estimator.penalty == "l2" else "saga",
            class_weight=estimator.class_weight,
            max_iter=estimator.max_iter,
            tol=estimator.tol,
            random_state=estimator.random_state,
        )
    if isinstance(estimator, HistGradientBoostingConfig):
        return HistGradientBoostingClassifier(
            learning_rate=estimator.learning_rate,
            max_iter=estimator.max_iter,
            max_depth=estimator.max_depth,
            max_leaf_nodes=estimator.max_leaf_nodes,
            min_samples_leaf=estimator.min_samples_leaf,
            l2_regularization=estimator.l2_regularization,
            early_stopping=estimator.early_stopping,
            class_weight=estimator.class_weight,
            random_state=estimator.random_state,
        )
    raise TypeError(f"unsupported estimator config {type(estimator).__name__}")


def _engineered(names: Sequence[str], kind: str) -> list[str]:
    return [name for name in names if INTERACTIONS[name].kind == kind]
