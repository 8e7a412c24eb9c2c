"""The two Delta monitor tables, shaped like Databricks' (``<predictions>_profile_metrics``,
``<predictions>_drift_metrics``): one statistic per column, so dashboards carry over.

Writes are idempotent per (model version, granularity, window): a write replaces exactly the rows
of the windows it carries (Delta ``replaceWhere``: delete + insert in one commit), so a rerun
replaces, never duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    ArrayType,
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


def window_key(start: datetime) -> str:
    return pd.Timestamp(start).strftime("%Y-%m-%dT%H:%M:%S")


def to_frame(spark: SparkSession, rows: pd.DataFrame, schema: StructType) -> DataFrame:
    """Monitor rows (pandas, from ``monitor``) as a Spark frame of the table's schema."""
    computed_at = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
    records = []
    for row in rows.to_dict("records"):
        row[WINDOW_KEY] = window_key(row["window_start"])
        row["computed_at"] = computed_at
        record = []
        for f in schema.fields:
            value = row.get(f.name)
            if value is not None and not isinstance(value, list) and pd.isna(value):
                value = None
            elif isinstance(value, pd.Timestamp):
                value = value.to_pydatetime()
            elif isinstance(f.dataType, DoubleType) and value is not None:
                value = float(value)
            record.append(value)
        records.append(tuple(record))
    return spark.createDataFrame(records, schema)


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
    frame = to_frame(spark, rows, schema) if len(rows) else spark.createDataFrame([], schema)
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
