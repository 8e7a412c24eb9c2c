"""Plain Delta tables (bronze, quarantine, labels, reference, refresh log): replaced in one
transaction, read at a version."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from churn_features.errors import FeatureTableError
from churn_features.identifiers import quote_identifier


def ensure_database(spark: SparkSession, table_name: str) -> None:
    if "." in table_name:
        database = table_name.rsplit(".", 1)[0]
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")


def table_version(spark: SparkSession, name: str) -> int | None:
    """Current Delta version of ``name``, or None if the table does not exist."""
    if not spark.catalog.tableExists(name):
        return None
    last = DeltaTable.forName(spark, name).history(1).first()
    return int(last["version"]) if last else None


def read_version(spark: SparkSession, name: str, version: int) -> DataFrame:
    """``name`` exactly as it was at Delta ``version`` (time travel)."""
    if not spark.catalog.tableExists(name):
        raise FeatureTableError(
            f"The table {name} does not exist.\n"
            "  fix: run the feature-table-refresh job (churn run feature-table-refresh)"
        )
    return spark.sql(f"SELECT * FROM {quote_identifier(name)} VERSION AS OF {int(version)}")


def replace_table(df: DataFrame, name: str, description: str) -> int:
    """``CREATE OR REPLACE TABLE ... AS SELECT``: readers see the old or the new content, never
    a mix. Returns the table's new version."""
    ensure_database(df.sparkSession, name)
    df.writeTo(name).using("delta").tableProperty("comment", description).createOrReplace()
    version = table_version(df.sparkSession, name)
    assert version is not None
    return version
