"""Plain Delta tables (bronze, quarantine, labels, reference), replaced in one transaction."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession


def ensure_database(spark: SparkSession, table_name: str) -> None:
    if "." in table_name:
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {table_name.rsplit('.', 1)[0]}")


def table_version(spark: SparkSession, name: str) -> int | None:
    """Current Delta version of ``name``, or None if the table does not exist."""
    if not spark.catalog.tableExists(name):
        return None
    last = DeltaTable.forName(spark, name).history(1).first()
    return int(last["version"]) if last else None


def replace_table(df: DataFrame, name: str, description: str) -> int:
    """``CREATE OR REPLACE TABLE ... AS SELECT``: readers see the old or the new content, never
    a mix. Returns the table's new version."""
    ensure_database(df.sparkSession, name)
    df.writeTo(name).using("delta").tableProperty("comment", description).createOrReplace()
    version = table_version(df.sparkSession, name)
    assert version is not None
    return version
