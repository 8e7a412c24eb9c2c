"""Batch scoring on Spark with feature lookup by primary key, into a Delta predictions table."""

from importlib.metadata import version as _version

__version__ = _version("churn-scoring")
