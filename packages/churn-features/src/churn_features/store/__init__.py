"""Feature store ports and their implementations.

Offline (Spark): ``FeatureStore`` (Delta here, Databricks feature engineering there).
Online (no Spark): ``OnlineStore`` in ``store.online`` (PostgreSQL locally, Lakebase on Databricks).
The names below resolve on first use (PEP 562) so that importing the online port never imports
pyspark: the serving request path has no JVM.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["FeatureLookup", "FeatureStore", "OnlineStore"]

_EXPORTS = {
    "FeatureLookup": "churn_features.store.base",
    "FeatureStore": "churn_features.store.base",
    "OnlineStore": "churn_features.store.online",
}

if TYPE_CHECKING:
    from churn_features.store.base import FeatureLookup, FeatureStore
    from churn_features.store.online import OnlineStore


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'churn_features.store' has no attribute {name!r}")
    return getattr(import_module(module), name)
