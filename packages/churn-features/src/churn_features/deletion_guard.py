"""Refuse a source that would wipe out most customers (a truncated or wrong file).

The feature table MERGE deletes every customer the source no longer has, and the labels and
reference tables are replaced, so a source cut off after 300 lines would leave 300 customers.
Before anything is written, the new valid rows are compared with the customers of the current
feature table: too large a share deleted, or too few rows at all, refuses the whole refresh.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from churn_features.contract import KEY
from churn_features.errors import TooManyDeletionsError


@dataclass(frozen=True)
class DeletionGuard:
    """``max_deleted_fraction``: the largest share of the current customers a refresh may
    delete (1.0 turns the check off); ``min_rows``: the fewest valid rows a source may have."""

    max_deleted_fraction: float = 0.1
    min_rows: int = 1

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_deleted_fraction <= 1.0:
            raise ValueError(
                f"max_deleted_fraction must be in [0, 1], got {self.max_deleted_fraction}"
            )
        if self.min_rows < 0:
            raise ValueError(f"min_rows must be >= 0, got {self.min_rows}")


@dataclass(frozen=True)
class CustomerLoss:
    previous: int
    deleted: int

    @property
    def fraction(self) -> float:
        return self.deleted / self.previous if self.previous else 0.0


def check_customer_loss(
    guard: DeletionGuard,
    incoming: DataFrame,
    incoming_rows: int,
    current: DataFrame | None,
    table_name: str,
    key: str = KEY,
) -> CustomerLoss:
    """Raise ``TooManyDeletionsError`` (naming the numbers and the fix) or return the loss.

    ``incoming``: the valid rows about to be written (``incoming_rows`` of them); ``current``: the
    feature table as it is now (None when it does not exist yet)."""
    if incoming_rows < guard.min_rows:
        raise TooManyDeletionsError(
            f"The source has {incoming_rows:,} valid rows, fewer than min_rows "
            f"({guard.min_rows:,}). Nothing was written.\n"
            "  fix: check that the source is the complete, right file; lower min_rows in the "
            "feature-table-refresh parameters if a source this small is expected"
        )
    if current is None:
        return CustomerLoss(previous=0, deleted=0)
    # One query for both numbers: every current key, marked when the source still has it.
    still_there = incoming.select(key).distinct().withColumn("_still_there", F.lit(True))
    counts = (
        current.select(key)
        .join(still_there, on=key, how="left")
        .agg(
            F.count(F.lit(1)).alias("previous"),
            F.count(F.when(F.col("_still_there").isNull(), 1)).alias("deleted"),
        )
        .first()
    )
    assert counts is not None
    previous, deleted = int(counts["previous"]), int(counts["deleted"])
    loss = CustomerLoss(previous=previous, deleted=deleted)
    if loss.fraction > guard.max_deleted_fraction:
        raise TooManyDeletionsError(
            f"The source would delete {deleted:,} of the {previous:,} customers of {table_name} "
            f"({loss.fraction:.1%}), more than max_deleted_fraction "
            f"({guard.max_deleted_fraction:.1%}); it has {incoming_rows:,} valid rows. "
            "Nothing was written.\n"
            "  fix: check that the source is the complete, right file (not truncated); if these "
            "customers really left, raise max_deleted_fraction for this run"
        )
    return loss
