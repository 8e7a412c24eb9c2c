"""Telco churn raw-data contract, ingest with quarantine, featurization and a feature store port
(Delta / Databricks).
"""

from importlib.metadata import version as _version

__version__ = _version("churn-features")
