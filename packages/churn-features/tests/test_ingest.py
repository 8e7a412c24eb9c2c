from pathlib import Path

import pytest
from conftest import GOOD_ROW, raw_row, write_csv
from pyspark.sql import SparkSession
from pyspark.sql.types import StringType

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.errors import MissingColumnsError, SourceUnreadableError
from churn_features.ingest import CORRUPT_COLUMN, check_local_source, read_raw


def test_vendored_source_is_read_as_the_contracts_string_columns(spark: SparkSession) -> None:
    raw = read_raw(spark, "vendored")
    assert raw.columns[: len(RAW_COLUMN_NAMES)] == list(RAW_COLUMN_NAMES)
    assert all(isinstance(raw.schema[name].dataType, StringType) for name in RAW_COLUMN_NAMES), (
        "the raw layer must not infer types"
    )
    assert raw.count() == 7043


def test_columns_in_another_order_land_under_their_header(
    spark: SparkSession, tmp_path: Path
) -> None:
    reordered = (*tuple(reversed(RAW_COLUMN_NAMES)), "Extra")
    path = write_csv(tmp_path / "r.csv", [raw_row(Extra="x")], columns=reordered)
    row = read_raw(spark, path).first()
    assert row is not None
    assert row["customerID"] == GOOD_ROW["customerID"]
    assert row["MonthlyCharges"] == GOOD_ROW["MonthlyCharges"]
    assert "Extra" not in row.asDict()


def test_missing_required_column_is_named(spark: SparkSession, tmp_path: Path) -> None:
    columns = tuple(c for c in RAW_COLUMN_NAMES if c not in ("tenure", "Churn"))
    path = write_csv(tmp_path / "m.csv", [raw_row()], columns=columns)
    with pytest.raises(MissingColumnsError, match="tenure, Churn"):
        read_raw(spark, path)


def test_missing_file_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(SourceUnreadableError, match="Cannot read the raw source"):
        read_raw(spark, tmp_path / "nope.csv")


def test_empty_file_is_a_clear_error(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SourceUnreadableError, match="empty"):
        read_raw(spark, path)


def test_a_line_with_too_many_fields_is_kept_as_corrupt(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "c.csv", [raw_row()])
    with path.open("a") as handle:
        handle.write(",".join(["x"] * (len(RAW_COLUMN_NAMES) + 3)) + "\n")
    rows = read_raw(spark, path).collect()
    assert len(rows) == 2
    assert sum(r[CORRUPT_COLUMN] is not None for r in rows) == 1


def test_a_missing_local_file_is_refused_before_spark_is_needed(tmp_path: Path) -> None:
    missing = tmp_path / "typo.csv"
    for source in (missing, missing.as_uri()):
        with pytest.raises(SourceUnreadableError, match="no such file or folder") as refused:
            check_local_source(source)
        assert str(missing) in str(refused.value)
        assert "fix:" in str(refused.value)
    present = write_csv(tmp_path / "s.csv", [raw_row()])
    for source in ("vendored", present, present.as_uri(), tmp_path):  # a folder of CSVs reads too
        check_local_source(source)
    # other filesystems and glob patterns are Spark's to resolve
    for source in ("s3://bucket/raw.csv", "dbfs:/raw/telco.csv", str(tmp_path / "*.csv")):
        check_local_source(source)
