"""Environments, Databricks job definitions, deploy and launch with databricks-sdk, and a local
runner for the same definitions.
"""

from importlib.metadata import version as _version

__version__ = _version("churn-infra")
