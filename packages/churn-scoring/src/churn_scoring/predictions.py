"""The Delta predictions table: one transaction per scoring run, reruns replace, never duplicate.

Every row carries ``scoring_run_id``, ``scored_at`` (the run's timestamp) and ``scoring_date``
(its UTC date, the partition column). ``append`` keeps earlier runs and replaces only this run's
rows (``replaceWhere scoring_run_id = <id>``: delete + insert in one commit); ``overwrite``
replaces the whole table with this run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, TimestampType

from churn_features.identifiers import quote_identifier
from churn_features.tables import ensure_database, table_version
from churn_scoring.errors import PredictionsTableError
from churn_scoring.score import REASON

RUN_ID = "scoring_run_id"
SCORED_AT = "scored_at"
SCORING_DATE = "scoring_date"
WriteMode = Literal["append", "overwrite"]
_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,199}")


@dataclass(frozen=True)
class PredictionsWrite:
    """What a write did, read back from the committed table version."""

    table_name: str
    run_id: str
    mode: WriteMode
    version: int
    scored_at: datetime
    rows_written: int
    rows_without_features: int

    @property
    def rows_scored(self) -> int:
        return self.rows_written - self.rows_without_features


def write_predictions(
    predictions: DataFrame,
    table_name: str,
    *,
    run_id: str,
    mode: WriteMode = "append",
    scored_at: datetime | None = None,
) -> PredictionsWrite:
    """Write ``predictions`` (the output of ``score_batch``) to the Delta table ``table_name``
    in one transaction; rerunning with the same ``run_id`` replaces that run's rows."""
    if mode not in ("append", "overwrite"):
        raise PredictionsTableError(
            f"Unknown predictions write mode {mode!r}.", "use 'append' or 'overwrite'"
        )
    if not _RUN_ID_PATTERN.fullmatch(run_id):
        raise PredictionsTableError(
            f"Scoring run id {run_id!r} is not usable (letters, digits and _.:@+- only, "
            "at most 200 characters, starting with a letter or digit).",
            "pass the job run id or a UUID",
        )
    if REASON not in predictions.columns:
        raise PredictionsTableError(
            f"The rows to write to {table_name} have no {REASON!r} column.",
            "write the output of churn_scoring.score.score_batch",
        )
    when = (scored_at or datetime.now(UTC)).astimezone(UTC)
    rows = (
        predictions.withColumn(RUN_ID, F.lit(run_id).cast(StringType()))
        .withColumn(SCORED_AT, F.lit(when).cast(TimestampType()))
        .withColumn(SCORING_DATE, F.lit(when.date()).cast(DateType()))
    )
    spark = predictions.sparkSession
    ensure_database(spark, table_name)
    exists = bool(spark.catalog.tableExists(table_name))
    writer = rows.write.format("delta").partitionBy(SCORING_DATE)
    if mode == "overwrite":
        writer.mode("overwrite").option("overwriteSchema", "true").saveAsTable(table_name)
    elif exists:
        _check_layout(spark, table_name, rows)
        writer.mode("overwrite").option("replaceWhere", f"{RUN_ID} = '{run_id}'").saveAsTable(
            table_name
        )
    else:
        writer.mode("append").saveAsTable(table_name)

    version = table_version(spark, table_name)
    assert version is not None, "the table was just written"
    counts = spark.sql(
        f"SELECT count(*) AS n, count({REASON}) AS missing FROM {quote_identifier(table_name)} "
        f"VERSION AS OF {version} WHERE {RUN_ID} = '{run_id}'"
    ).first()
    assert counts is not None
    return PredictionsWrite(
        table_name=table_name,
        run_id=run_id,
        mode=mode,
        version=version,
        scored_at=when,
        rows_written=int(counts["n"]),
        rows_without_features=int(counts["missing"]),
    )


def _check_layout(spark: SparkSession, table_name: str, rows: DataFrame) -> None:
    """Appending to a table of another layout would fail deep in Delta or mix schemas."""
    table = spark.table(table_name)
    existing = {f.name: f.dataType.simpleString() for f in table.schema.fields}
    incoming = {f.name: f.dataType.simpleString() for f in rows.schema.fields}
    detail = DeltaTable.forName(spark, table_name).detail().first()
    partitions = list(detail["partitionColumns"]) if detail else []
    if existing != incoming or partitions != [SCORING_DATE]:
        raise PredictionsTableError(
            f"The predictions table {table_name} has another layout (columns {existing}, "
            f"partitioned by {partitions}) than these predictions ({incoming}, partitioned by "
            f"[{SCORING_DATE!r}]).",
            "write to a new table, or run once with mode 'overwrite' to replace it",
        )
