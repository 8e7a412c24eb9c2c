"""The environment's model registry, and the feature contract models are checked against."""

from __future__ import annotations

from typing import TYPE_CHECKING

from churn_jobs.context import JobContext

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

    from churn_registry_ops import ModelRegistry

#: Spark column type -> the MLflow signature type a model trained on it declares
MLFLOW_TYPES = {
    "int": "long",
    "bigint": "long",
    "smallint": "long",
    "double": "double",
    "float": "double",
    "string": "string",
    "boolean": "boolean",
}


def registry(ctx: JobContext) -> ModelRegistry:
    from churn_registry_ops import ModelRegistry

    return ModelRegistry(ctx.mlflow, ctx.runtime.registered_model_name, ctx.runtime.registry_mode)


def expected_contract(features: DataFrame, feature_names: list[str]) -> dict[str, str]:
    """The signature a model consuming ``feature_names`` of this feature table must declare."""
    types = dict(features.dtypes)
    return {
        name: MLFLOW_TYPES.get(types[name], types[name]) for name in feature_names if name in types
    }


def score_frame(
    ctx: JobContext, keys: DataFrame, feature_names: list[str], label: str | None = None
) -> pd.DataFrame:
    """Rows of ``keys`` with their features looked up, as pandas, in a stable key order."""
    from churn_features.store.base import FeatureLookup

    features_table = ctx.table(ctx.runtime.tables.features)
    lookup = FeatureLookup(features_table, ("customer_id",), tuple(feature_names))
    frame = ctx.feature_store.create_training_set(keys, [lookup], label=label).toPandas()
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
