"""Feature store ports and their implementations.

Offline (Spark): ``FeatureStore`` (Delta here, Databricks feature engineering there).
Online (no Spark): ``OnlineStore`` in ``store.online`` (PostgreSQL locally, Lakebase on Databricks).
The names below resolve on first use (PEP 562) so that importing the online port never imports
pyspark: the serving request path has no JVM.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__all__ = ["FeatureStore", "Lookup", "OnlineStore"]

_EXPORTS = {
    "FeatureStore": "churn_features.store.base",
    "Lookup": "churn_features.store.base",
    "OnlineStore": "churn_features.store.online",
}

if TYPE_CHECKING:
    from churn_features.store.base import FeatureStore, Lookup
    from churn_features.store.online import OnlineStore


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'churn_features.store' has no attribute {name!r}")
    return getattr(import_module(module), name)
