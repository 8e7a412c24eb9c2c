"""The refresh log: one row per completed feature-table refresh, with every table's Delta version.

A refresh commits its tables one after another; a crash between two commits leaves tables from
two refreshes. The log row is the refresh's last commit, so the newest row always names a set of
versions that belong together. Readers that must not mix refreshes (training, validation, the
champion/challenger comparison) read every table at the versions of ``last_completed_refresh``
(Delta time travel), whatever a running or crashed refresh has committed since.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from churn_features.tables import ensure_database

LOG_SCHEMA = "refresh_id string, completed_at timestamp, source string, versions map<string,bigint>"


@dataclass(frozen=True)
class CompletedRefresh:
    refresh_id: str
    completed_at: datetime
    source: str
    #: fully qualified table name, as the refresh was given it -> Delta version it committed
    versions: dict[str, int]


def record_refresh(
    spark: SparkSession, log_table: str, versions: Mapping[str, int], source: str
) -> str:
    """Append the row that marks a refresh complete (one Delta commit); returns its id."""
    refresh_id = uuid.uuid4().hex
    # Literals over a one-row range, not createDataFrame: no Python rows to ship and unpickle in
    # the JVM (0.4-0.8 s less for the first row a fresh driver writes).
    pairs = [part for name, v in versions.items() for part in (F.lit(name), F.lit(int(v)))]
    row = spark.range(1).select(
        F.lit(refresh_id).alias("refresh_id"),
        F.current_timestamp().alias("completed_at"),
        F.lit(source).alias("source"),
        F.create_map(*pairs).cast("map<string,bigint>").alias("versions"),
    )
    ensure_database(spark, log_table)
    row.write.format("delta").mode("append").option(
        "comment", "One row per completed feature-table refresh: the Delta version of each table."
    ).saveAsTable(log_table)
    return refresh_id


def last_completed_refresh(spark: SparkSession, log_table: str) -> CompletedRefresh | None:
    """The newest row of the log, or None when no refresh has completed (or there is no log)."""
    if not spark.catalog.tableExists(log_table):
        return None
    last = spark.table(log_table).orderBy(F.col("completed_at").desc()).limit(1).collect()
    if not last:
        return None
    row = last[0]
    return CompletedRefresh(
        refresh_id=row["refresh_id"],
        completed_at=row["completed_at"],
        source=row["source"],
        versions={name: int(v) for name, v in (row["versions"] or {}).items()},
    )
