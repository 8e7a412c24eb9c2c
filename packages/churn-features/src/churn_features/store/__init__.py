"""Feature store port and its implementations (Delta here, Databricks feature engineering there)."""

from churn_features.store.base import FeatureStore, Lookup

__all__ = ["FeatureStore", "Lookup"]
