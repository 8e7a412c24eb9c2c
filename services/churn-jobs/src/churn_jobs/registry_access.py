"""The environment's model registry, and the feature contract models are checked against."""

from __future__ import annotations

from typing import TYPE_CHECKING

from churn_jobs.context import JobContext

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from churn_model import FeatureSpec
    from churn_registry_ops import ModelRegistry

#: Spark column type -> the MLflow signature type a model trained on it declares (one map, owned
#: by churn-model: it also serves the sanity checks)
from churn_model.feature_types import MLFLOW_TYPES


def registry(ctx: JobContext) -> ModelRegistry:
    from churn_registry_ops import ModelRegistry

    return ModelRegistry(ctx.mlflow, ctx.runtime.registered_model_name, ctx.runtime.registry_mode)


def expected_contract(features: DataFrame, feature_names: list[str]) -> dict[str, str]:
    """The signature a model consuming ``feature_names`` of this feature table must declare."""
    types = dict(features.dtypes)
    return {
        name: MLFLOW_TYPES.get(types[name], types[name]) for name in feature_names if name in types
    }


def lookup_frame(ctx: JobContext, keys: DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Rows of ``keys`` with the features a model's spec looks up, as pandas, in key order."""
    from churn_features.store.base import FeatureLookup

    lookups = [
        FeatureLookup(lk.table_name, tuple(lk.lookup_key), tuple(lk.feature_names))
        for lk in spec.lookups
    ]
    frame = ctx.feature_store.create_training_set(keys, lookups, label=spec.label).toPandas()
    order = sorted({k for lk in spec.lookups for k in lk.lookup_key})
    return frame.sort_values(order, kind="stable").reset_index(drop=True)
