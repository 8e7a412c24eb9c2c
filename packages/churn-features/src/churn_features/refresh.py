"""The feature-table refresh: raw source -> bronze, quarantine, features, labels, reference.

Everything is read, validated and checked before the first write, so a bad source (unreadable,
missing columns, too many bad rows, one that would delete most customers) writes nothing. Each
table write is one Delta transaction, and the last commit is a row in the refresh log naming every
table's version (see refresh_log.py): readers take the tables at those versions, so a refresh that
dies between two commits is never half-read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from churn_features.contract import KEY
from churn_features.deletion_guard import CustomerLoss, DeletionGuard, check_customer_loss
from churn_features.errors import PartialRefreshError
from churn_features.featurize import build_features, build_labels
from churn_features.ingest import VENDORED, read_raw
from churn_features.refresh_log import last_completed_refresh, record_refresh
from churn_features.split import previous_assignment, reference_split
from churn_features.store.base import FeatureStore, TableWrite
from churn_features.tables import read_version, replace_table
from churn_features.validation import (
    ValidationReport,
    bronze_rows,
    check_bad_fraction,
    flag_rows,
    quarantined_rows,
    summarize,
    typed_rows,
)

FEATURES_DESCRIPTION = (
    "Telco churn features per customer (primary key customer_id); "
    "see the churn-features README for each column."
)


@dataclass(frozen=True)
class RefreshTables:
    """Fully qualified names of the tables the refresh writes (``refresh_log`` defaults to
    ``<features>_refresh_log``)."""

    bronze: str
    quarantine: str
    features: str
    labels: str
    reference: str
    refresh_log: str = ""

    def __post_init__(self) -> None:
        if not self.refresh_log:
            object.__setattr__(self, "refresh_log", f"{self.features}_refresh_log")


@dataclass(frozen=True)
class RefreshResult:
    source: str
    report: ValidationReport
    features_write: TableWrite
    labels_rows: int
    reference_rows: int
    #: table name -> Delta version after this refresh
    versions: dict[str, int] = field(default_factory=dict)
    #: customers of the feature table before, and how many this refresh deleted
    customer_loss: CustomerLoss = field(default_factory=lambda: CustomerLoss(0, 0))
    #: the id of this refresh's row in the refresh log
    refresh_id: str = ""


def refresh_feature_tables(
    spark: SparkSession,
    store: FeatureStore,
    tables: RefreshTables,
    source: str | Path = VENDORED,
    max_bad_fraction: float = 0.05,
    reference_fraction: float = 0.2,
    seed: int = 42,
    on_step: Callable[[str], None] = lambda _step: None,
    guard: DeletionGuard | None = None,
) -> RefreshResult:
    """Refresh every table from ``source``; ``guard`` (default ``DeletionGuard()``) refuses a
    source that would delete too many customers. See the module docstring for the guarantees."""
    guard = guard or DeletionGuard()
    on_step("reading and validating the raw source")
    raw = read_raw(spark, source)
    # Read the file once: every table below derives from these flagged rows.
    flagged = flag_rows(raw).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        report = summarize(flagged)
        check_bad_fraction(report, max_bad_fraction)

        typed = typed_rows(flagged)
        features = build_features(typed)
        # existence only (the catalog): the version would cost a Delta history job
        has_features = spark.catalog.tableExists(tables.features)
        loss = check_customer_loss(
            guard,
            features,
            report.rows_valid,
            store.read_table(tables.features) if has_features else None,
            tables.features,
        )
        training_labels, reference = reference_split(
            build_labels(typed),
            fraction=reference_fraction,
            seed=seed,
            previous=_previous_split(spark, tables),
        )
        versions: dict[str, int] = {}
        try:
            on_step(f"writing {tables.bronze}")
            versions[tables.bronze] = replace_table(
                bronze_rows(flagged), tables.bronze, "Raw telco rows as ingested (strings)."
            )
            on_step(f"writing {tables.quarantine}")
            versions[tables.quarantine] = replace_table(
                quarantined_rows(flagged),
                tables.quarantine,
                "Raw rows that failed validation, each with its reasons.",
            )
            on_step(f"merging {tables.features}")
            store.create_table(tables.features, [KEY], features.schema, FEATURES_DESCRIPTION)
            features_write = store.write_table(tables.features, features)
            versions[tables.features] = features_write.version
            training_labels = training_labels.persist()
            reference = reference.persist()
            on_step(f"writing {tables.labels}")
            versions[tables.labels] = replace_table(
                training_labels, tables.labels, "Churn labels of the customers training may use."
            )
            on_step(f"writing {tables.reference}")
            versions[tables.reference] = replace_table(
                reference, tables.reference, "Held-out labelled customers for model comparison."
            )
            on_step(f"recording the refresh in {tables.refresh_log}")
            refresh_id = record_refresh(spark, tables.refresh_log, versions, str(source))
        except Exception as exc:
            raise PartialRefreshError(
                f"The refresh failed while writing, after committing {versions or 'nothing'} "
                f"({type(exc).__name__}: {exc}). Until a refresh completes, jobs keep reading "
                f"the tables of the last completed one (see {tables.refresh_log}).\n"
                "  fix: rerun it; every write replaces or MERGEs, so a rerun completes the set"
            ) from exc
        labels_rows, reference_rows = training_labels.count(), reference.count()
        training_labels.unpersist()
        reference.unpersist()
    finally:
        flagged.unpersist()
    return RefreshResult(
        source=str(source),
        report=report,
        features_write=features_write,
        labels_rows=labels_rows,
        reference_rows=reference_rows,
        versions=versions,
        customer_loss=loss,
        refresh_id=refresh_id,
    )


def _previous_split(spark: SparkSession, tables: RefreshTables) -> DataFrame | None:
    """The split an earlier refresh made, so that customers keep their side (see split.py).

    Read at the last completed refresh's versions when the log has them (a crashed refresh may
    have replaced the labels but not the reference), and materialized, because the tables it
    reads are about to be replaced."""
    if not (
        spark.catalog.tableExists(tables.labels) and spark.catalog.tableExists(tables.reference)
    ):
        return None
    completed = last_completed_refresh(spark, tables.refresh_log)
    pinned = completed.versions if completed else {}
    labels, reference = (
        read_version(spark, name, pinned[name]) if name in pinned else spark.table(name)
        for name in (tables.labels, tables.reference)
    )
    return previous_assignment(labels, reference).localCheckpoint(eager=True)
