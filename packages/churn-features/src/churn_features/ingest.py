"""Read a raw IBM Telco CSV into strings: nothing is inferred, nothing is dropped.

Every column is read as a string with an explicit schema derived from the file's own header, so a
file whose columns come in another order still lands correctly; a line with fewer or more fields
than the header is kept in ``_corrupt_record`` and quarantined by validation, not lost. CSV column
pruning is off for this read: with it on, Spark only tokenizes the columns a query uses and no
longer notices a short or long line (it pads or cuts it silently).
"""

from __future__ import annotations

import csv
from pathlib import Path
from urllib.parse import unquote, urlparse

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.dataset import vendored_csv_path
from churn_features.errors import MissingColumnsError, SourceUnreadableError

CORRUPT_COLUMN = "_corrupt_record"
SOURCE_COLUMN = "_source"
INGESTED_AT_COLUMN = "_ingested_at"

VENDORED = "vendored"


def resolve_source(source: str | Path) -> str:
    """``"vendored"`` means the IBM file shipped in this package; anything else is a path/URI."""
    if str(source) == VENDORED:
        return str(vendored_csv_path())
    return str(source)


def check_local_source(source: str | Path) -> None:
    """Refuse, before any Spark work, a source that names a file on this machine that is not
    there (the commonest mistake: a typo is answered at once, not after a Spark start).

    Only for a Spark whose default filesystem is the local disk (the local platform): on
    Databricks a path without a scheme is on DBFS, not on the driver's disk. URIs of other
    filesystems and glob patterns are left to Spark's reader (``read_header``)."""
    path = resolve_source(source)
    parsed = urlparse(path)
    if parsed.scheme == "file":
        path = unquote(parsed.path)
    elif len(parsed.scheme) > 1 or any(char in path for char in "*?[{"):
        return
    if not Path(path).exists():
        raise SourceUnreadableError(
            f"Cannot read the raw source {path!r}: there is no such file or folder.\n"
            "  fix: pass an existing CSV file (source: vendored uses the shipped IBM data set)"
        )


def read_header(spark: SparkSession, path: str) -> list[str]:
    """The first line of the file, parsed as CSV (works for .gz and any Hadoop filesystem)."""
    try:
        first = spark.read.text(path).limit(1).collect()
    except AnalysisException as exc:
        raise SourceUnreadableError(
            f"Cannot read the raw source {path!r}: {exc.getMessage().splitlines()[0]}\n"
            "  fix: pass an existing CSV file (source: vendored uses the shipped IBM data set)"
        ) from None
    if not first or not first[0][0].strip():
        raise SourceUnreadableError(
            f"The raw source {path!r} is empty.\n"
            "  fix: pass a CSV file with a header line and at least one row"
        )
    return next(csv.reader([first[0][0]]))


def read_raw(spark: SparkSession, source: str | Path = VENDORED) -> DataFrame:
    """The contract's raw columns as strings, plus ``_corrupt_record``, ``_source`` and
    ``_ingested_at``. Extra columns in the file are ignored; missing ones are an error."""
    path = resolve_source(source)
    header = [name.strip() for name in read_header(spark, path)]
    missing = [name for name in RAW_COLUMN_NAMES if name not in header]
    if missing:
        raise MissingColumnsError(
            f"The raw source {path!r} lacks required column(s): {', '.join(missing)}.\n"
            f"  fix: provide a CSV whose header has all of: {', '.join(RAW_COLUMN_NAMES)}"
        )
    schema = StructType(
        [StructField(name, StringType(), True) for name in header]
        + [StructField(CORRUPT_COLUMN, StringType(), True)]
    )
    frame = (
        spark.read.schema(schema)
        .option("header", "true")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
        .option("enforceSchema", "true")
        # Count every field of every line, whatever columns the query ends up using.
        .option("columnPruning", "false")
        .csv(path)
    )
    return frame.select(
        *[F.col(f"`{name}`") for name in RAW_COLUMN_NAMES],
        F.col(CORRUPT_COLUMN),
        F.lit(path).alias(SOURCE_COLUMN),
        F.current_timestamp().alias(INGESTED_AT_COLUMN),
    )
