"""The table of keys to score: one clear message when it is missing or lacks the key column."""

from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession

from churn_scoring.errors import KeysColumnError, KeysTableNotFoundError


def read_keys(spark: SparkSession, table_name: str, *, key: str = "customer_id") -> DataFrame:
    """``table_name`` as a DataFrame, checked to exist and to hold the ``key`` column."""
    try:
        exists = bool(spark.catalog.tableExists(table_name))
    except AnalysisException:  # e.g. an unparsable name
        exists = False
    if not exists:
        raise KeysTableNotFoundError(
            f"The keys table {table_name} does not exist.",
            f"create it (one row per customer to score, with a {key!r} column), or set the "
            "inference job's keys table to an existing table",
        )
    keys = spark.table(table_name)
    if key not in keys.columns:
        raise KeysColumnError(
            f"The keys table {table_name} has no {key!r} column (columns: {keys.columns}).",
            f"add or rename the customer key column to {key!r}, or point the inference job at "
            "a table that has it",
        )
    return keys
