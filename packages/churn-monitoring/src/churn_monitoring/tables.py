"""The two Delta monitor tables, shaped like Databricks' (``<predictions>_profile_metrics``,
``<predictions>_drift_metrics``): one statistic per column, so dashboards carry over.

Writes are idempotent per (model version, granularity, window): a write replaces exactly the rows
of the windows it carries (Delta ``replaceWhere``: delete + insert in one commit), so a rerun
replaces, never duplicates.

Beside them, ``<predictions>_monitor_baseline`` keeps each encoded ``Baseline`` under its
fingerprint (``churn_monitoring.baseline``), so later runs need not summarise it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
    DataType,
    DoubleType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from churn_monitoring.metrics import DRIFT_STATISTICS, PROFILE_STATISTICS

WINDOW_KEY = "window_key"
_KEYS = [
    StructField("window_start", TimestampType()),
    StructField("window_end", TimestampType()),
    StructField(WINDOW_KEY, StringType()),
    StructField("granularity", StringType()),
    StructField("model_version", StringType()),
    StructField("column_name", StringType()),
    StructField("slice_key", StringType()),
    StructField("slice_value", StringType()),
]
PROFILE_SCHEMA = StructType(
    [
        *_KEYS,
        *[StructField(s, DoubleType()) for s in PROFILE_STATISTICS],
        StructField("computed_at", TimestampType()),
    ]
)
DRIFT_SCHEMA = StructType(
    [
        *_KEYS,
        StructField("drift_type", StringType()),
        StructField("comparison_window_start", TimestampType()),
        *[StructField(s, DoubleType()) for s in DRIFT_STATISTICS],
        StructField("unseen_categories", ArrayType(StringType())),
        StructField("computed_at", TimestampType()),
    ]
)


def profile_table_name(predictions_table: str) -> str:
    return f"{predictions_table}_profile_metrics"


def drift_table_name(predictions_table: str) -> str:
    return f"{predictions_table}_drift_metrics"


def baseline_table_name(predictions_table: str) -> str:
    return f"{predictions_table}_monitor_baseline"


BASELINE_SCHEMA = StructType(
    [
        StructField("fingerprint", StringType()),
        StructField("model_version", StringType()),
        StructField("baseline", StringType()),
        StructField("computed_at", TimestampType()),
    ]
)


def read_kept_baseline(spark: SparkSession, table: str, fingerprint: str) -> str | None:
    """The encoded baseline kept under ``fingerprint`` (the newest, should two runs have kept
    one), or None."""
    if not spark.catalog.tableExists(table):
        return None
    row = (
        spark.table(table)
        .where(F.col("fingerprint") == fingerprint)
        .orderBy(F.col("computed_at").desc())
        .select("baseline")
        .first()
    )
    return None if row is None else str(row["baseline"])


def keep_baseline(
    spark: SparkSession, table: str, fingerprint: str, model_version: str, encoded: str
) -> None:
    """Append one kept baseline (one commit; the table is created by the first)."""
    columns = {
        "fingerprint": pa.array([fingerprint], pa.string()),
        "model_version": pa.array([model_version], pa.string()),
        "baseline": pa.array([encoded], pa.string()),
        "computed_at": pa.array([pd.Timestamp.now(tz="UTC")], pa.timestamp("us", tz="UTC")),
    }
    frame = spark.createDataFrame(pa.table(columns), BASELINE_SCHEMA)
    frame.write.format("delta").mode("append").saveAsTable(table)


def window_key(start: datetime) -> str:
    return pd.Timestamp(start).strftime("%Y-%m-%dT%H:%M:%S")


def to_frame(spark: SparkSession, rows: pd.DataFrame, schema: StructType) -> DataFrame:
    """Monitor rows (pandas, from ``monitor``) as a Spark frame of the table's schema.

    Handed to Spark as an Arrow table, which the JVM reads whatever the session's Arrow setting:
    Python rows would be pickled and unpickled by an RDD job with Python workers of its own. The
    monitor's naive timestamps are UTC, and say so here, so neither the machine's time zone (how
    Spark reads a naive ``datetime``) nor the session's (a naive Arrow timestamp) shifts them."""
    n = len(rows)
    if n:
        rows = rows.copy()
        rows[WINDOW_KEY] = rows["window_start"].map(window_key)
        rows["computed_at"] = pd.Timestamp.now(tz="UTC")
    columns = {f.name: _arrow_column(rows.get(f.name), f.dataType, n) for f in schema.fields}
    return spark.createDataFrame(pa.table(columns), schema)


def _arrow_column(values: pd.Series | None, dtype: DataType, n: int) -> pa.Array:
    """One column of monitor rows, missing values (None, NaN, NaT) as nulls."""
    if isinstance(dtype, TimestampType):
        kind = pa.timestamp("us", tz="UTC")
        if values is None:
            return pa.nulls(n, kind)
        stamps = pd.to_datetime(values)
        stamps = stamps.dt.tz_convert("UTC") if stamps.dt.tz else stamps.dt.tz_localize("UTC")
        return pa.array(stamps.dt.floor("us"), type=kind)
    if isinstance(dtype, DoubleType):
        return pa.nulls(n, pa.float64()) if values is None else pa.array(values, pa.float64())
    if isinstance(dtype, StringType):
        return pa.nulls(n, pa.string()) if values is None else pa.array(values, pa.string())
    if isinstance(dtype, ArrayType) and isinstance(dtype.elementType, StringType):
        kind = pa.list_(pa.string())
        if values is None:
            return pa.nulls(n, kind)
        lists = [list(v) if isinstance(v, list | tuple | np.ndarray) else None for v in values]
        return pa.array(lists, kind)
    raise TypeError(f"no Arrow conversion for monitor column type {dtype.simpleString()}")


def write_monitor_rows(
    spark: SparkSession,
    table: str,
    rows: pd.DataFrame,
    schema: StructType,
    *,
    model_version: str,
    granularity: str,
    windows: Sequence[datetime],
) -> None:
    """Replace the rows of (model version, granularity, windows) of ``table`` in one commit."""
    if not windows:
        return
    frame = to_frame(spark, rows, schema)
    keys = ", ".join(f"'{window_key(w)}'" for w in windows)
    predicate = (
        f"model_version = '{_quote(model_version)}' AND granularity = '{_quote(granularity)}' "
        f"AND {WINDOW_KEY} IN ({keys})"
    )
    writer = frame.write.format("delta")
    if spark.catalog.tableExists(table):
        writer.mode("overwrite").option("replaceWhere", predicate).saveAsTable(table)
    else:
        writer.mode("append").saveAsTable(table)


def read_monitor_rows(
    spark: SparkSession, table: str, model_version: str, granularity: str
) -> pd.DataFrame:
    """Every row of one model version and granularity (empty if the table does not exist)."""
    if not spark.catalog.tableExists(table):
        return pd.DataFrame()
    return (
        spark.table(table)
        .where((F.col("model_version") == model_version) & (F.col("granularity") == granularity))
        .toPandas()
    )


def _quote(value: str) -> str:
    return value.replace("'", "''")
