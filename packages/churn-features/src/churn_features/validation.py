"""Validate raw rows against the contract: every bad row is kept with its reasons, none is dropped.

``flag_rows`` adds ``_reasons`` (array of ``"<code>:<column>"``) to the raw strings; rows with no
reason are typed into snake_case columns by ``typed_rows``; the others go to the quarantine table
as they came, with their reasons. Reason codes:

- ``missing_value``: a required value is null or blank
- ``wrong_type``: a numeric column does not parse as its type
- ``out_of_range``: a number outside the contract's bounds
- ``unknown_category``: a categorical value the contract does not know
- ``bad_label``: ``Churn`` is missing or not Yes/No
- ``duplicate_customer_id``: the same customer appears with different values (all copies kept out)
- ``duplicate_row``: an exact copy of a row that was kept (the first copy stays valid)
- ``malformed_row``: the line has fewer or more fields than the header (its values cannot be
  trusted to sit under the right column, so it gets this reason only)

A blank ``TotalCharges`` with ``tenure`` 0 is not an error: the customer is brand new and has
been charged nothing yet, so it is imputed to 0.0 (``total_charges_imputed`` counts them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from churn_features.contract import RAW_COLUMNS, RawColumn
from churn_features.errors import TooManyBadRowsError
from churn_features.ingest import CORRUPT_COLUMN, INGESTED_AT_COLUMN, SOURCE_COLUMN

REASONS_COLUMN = "_reasons"
QUARANTINE_REASON_COLUMN = "reason"
SPARK_TYPES = {"int": "int", "double": "double"}


def _raw(column: RawColumn) -> Column:
    return F.col(f"`{column.raw_name}`")


def _blank(value: Column) -> Column:
    return value.isNull() | (F.trim(value) == "")


def _parsed(column: RawColumn) -> Column:
    return F.expr(f"try_cast(trim(`{column.raw_name}`) AS {SPARK_TYPES[column.kind]})")


def _new_customer_without_charges(column: RawColumn) -> Column:
    """Blank TotalCharges on a tenure-0 row: a known, legitimate case (imputed, not quarantined)."""
    tenure = F.expr("try_cast(trim(`tenure`) AS int)")
    return F.lit(column.raw_name == "TotalCharges") & _blank(_raw(column)) & (tenure == 0)


def _reason(column: RawColumn) -> Column:
    """The first problem of one column of one row, as ``code:column``, or null."""
    value = _raw(column)
    tag = column.raw_name

    def flag(code: str) -> Column:
        return F.lit(f"{code}:{tag}")

    if column.kind == "label":
        return F.when(
            ~F.coalesce(F.trim(value).isin(*column.allowed), F.lit(False)), flag("bad_label")
        )
    missing = F.when(_blank(value), flag("missing_value"))
    if column.kind == "id":
        return missing
    if column.kind == "category":
        return missing.when(~F.trim(value).isin(*column.allowed), flag("unknown_category"))
    parsed = _parsed(column)
    out_of_range = F.lit(False)
    if column.minimum is not None:
        out_of_range = out_of_range | (parsed < column.minimum)
    if column.maximum is not None:
        out_of_range = out_of_range | (parsed > column.maximum)
    if column.kind == "double":
        out_of_range = out_of_range | F.isnan(parsed)
    return (
        F.when(_new_customer_without_charges(column), F.lit(None).cast("string"))
        .when(_blank(value), flag("missing_value"))
        .when(parsed.isNull(), flag("wrong_type"))
        .when(out_of_range, flag("out_of_range"))
    )


def _duplicate_reason() -> Column:
    """Conflicting copies of a customer are all held back; exact copies keep their first one."""
    key = F.trim(F.col("`customerID`"))
    row_hash = F.xxhash64(*[_raw(c) for c in RAW_COLUMNS])
    by_key = Window.partitionBy(key)
    copies = Window.partitionBy(key, row_hash).orderBy(row_hash)
    return (
        F.when(_blank(F.col("`customerID`")), F.lit(None).cast("string"))
        .when(
            F.size(F.collect_set(row_hash).over(by_key)) > 1,
            F.lit("duplicate_customer_id:customerID"),
        )
        .when(F.row_number().over(copies) > 1, F.lit("duplicate_row:customerID"))
    )


def flag_rows(raw: DataFrame) -> DataFrame:
    """Add ``_reasons``: an empty array for a valid row."""
    candidates = F.array(*[_reason(c) for c in RAW_COLUMNS], _duplicate_reason())
    reasons = F.when(
        F.col(CORRUPT_COLUMN).isNotNull(), F.array(F.lit(f"malformed_row:{CORRUPT_COLUMN}"))
    ).otherwise(F.filter(candidates, lambda r: r.isNotNull()))
    return raw.withColumn(REASONS_COLUMN, reasons)


def typed_rows(flagged: DataFrame) -> DataFrame:
    """Valid rows only, typed and snake_cased; ``churn`` becomes 0/1."""
    columns = []
    for column in RAW_COLUMNS:
        value = F.trim(_raw(column))
        if column.kind in SPARK_TYPES:
            typed = _parsed(column)
            if column.raw_name == "TotalCharges":
                typed = F.coalesce(typed, F.lit(0.0))
            columns.append(typed.alias(column.name))
        elif column.kind == "label":
            columns.append(F.when(value == "Yes", 1).otherwise(0).cast("int").alias(column.name))
        else:
            columns.append(value.alias(column.name))
    return flagged.where(F.size(REASONS_COLUMN) == 0).select(*columns)


def bronze_rows(flagged: DataFrame) -> DataFrame:
    """Every row as read, with its validation outcome (empty ``validation_reasons`` = valid)."""
    return flagged.withColumnRenamed(REASONS_COLUMN, "validation_reasons")


def quarantined_rows(flagged: DataFrame) -> DataFrame:
    """Bad rows exactly as read, with all their reasons and the first one as ``reason``."""
    return flagged.where(F.size(REASONS_COLUMN) > 0).select(
        *[_raw(c) for c in RAW_COLUMNS],
        F.col(CORRUPT_COLUMN).alias("raw_line"),
        F.col(REASONS_COLUMN).alias("reasons"),
        F.element_at(REASONS_COLUMN, 1).alias(QUARANTINE_REASON_COLUMN),
        F.col(SOURCE_COLUMN).alias("source"),
        F.col(INGESTED_AT_COLUMN).alias("ingested_at"),
    )


@dataclass(frozen=True)
class ValidationReport:
    rows_read: int
    rows_quarantined: int
    total_charges_imputed: int
    #: quarantined rows per reason code (a row with two reasons counts under both)
    by_reason: dict[str, int] = field(default_factory=dict)
    #: quarantined rows per ``code:column``
    by_reason_column: dict[str, int] = field(default_factory=dict)

    @property
    def rows_valid(self) -> int:
        return self.rows_read - self.rows_quarantined

    @property
    def bad_fraction(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


def summarize(flagged: DataFrame) -> ValidationReport:
    """Counts, and counts per reason, in one Spark query.

    Each row explodes into one row per reason (a valid row into one row with a null reason); a
    row's first exploded row counts it once, so a single group-by gives the totals and the
    per-reason counts together.
    """
    exploded = flagged.select(
        F.posexplode_outer(REASONS_COLUMN).alias("position", "reason"),
        F.col("`TotalCharges`").alias("total_charges"),
    )
    groups = (
        exploded.groupBy("reason")
        .agg(
            F.count(F.lit(1)).alias("exploded"),
            F.sum(F.when(F.coalesce(F.col("position"), F.lit(0)) == 0, 1).otherwise(0)).alias(
                "rows"
            ),
            F.sum(F.when(_blank(F.col("total_charges")), 1).otherwise(0)).alias("blank_charges"),
        )
        .collect()
    )
    rows_read = rows_quarantined = imputed = 0
    by_column: dict[str, int] = {}
    for group in groups:
        rows_read += int(group["rows"])
        if group["reason"] is None:
            imputed = int(group["blank_charges"])
        else:
            rows_quarantined += int(group["rows"])
            by_column[group["reason"]] = int(group["exploded"])
    by_code: Counter[str] = Counter()
    for reason, count in by_column.items():
        by_code[reason.split(":", 1)[0]] += count
    return ValidationReport(
        rows_read=rows_read,
        rows_quarantined=rows_quarantined,
        total_charges_imputed=imputed,
        by_reason=dict(by_code),
        by_reason_column=dict(sorted(by_column.items())),
    )


def check_bad_fraction(report: ValidationReport, max_bad_fraction: float) -> None:
    """Refuse the whole input when too much of it is bad (likely a wrong or broken file)."""
    if report.rows_read == 0:
        raise TooManyBadRowsError(
            "The raw source has a header but no rows.\n  fix: pass a file with customer rows"
        )
    if report.bad_fraction > max_bad_fraction:
        top = ", ".join(
            f"{k}={v}" for k, v in sorted(report.by_reason.items(), key=lambda kv: -kv[1])
        )
        raise TooManyBadRowsError(
            f"{report.rows_quarantined} of {report.rows_read} rows "
            f"({report.bad_fraction:.1%}) failed validation, more than the allowed "
            f"{max_bad_fraction:.1%} ({top}). Nothing was written.\n"
            "  fix: check the source file, or raise max_bad_fraction if this is expected"
        )
