"""The feature-table refresh: raw source -> bronze, quarantine, features, labels, reference.

Everything is read, validated and checked before the first write, so a bad source (unreadable,
missing columns, too many bad rows) writes nothing. Each table write is one Delta transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from churn_features.contract import KEY
from churn_features.errors import PartialRefreshError
from churn_features.featurize import build_features, build_labels
from churn_features.ingest import VENDORED, read_raw
from churn_features.split import previous_assignment, reference_split
from churn_features.store.base import FeatureStore, TableWrite
from churn_features.tables import replace_table
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
    """Fully qualified names of the tables the refresh writes."""

    bronze: str
    quarantine: str
    features: str
    labels: str
    reference: str


@dataclass(frozen=True)
class RefreshResult:
    source: str
    report: ValidationReport
    features_write: TableWrite
    labels_rows: int
    reference_rows: int
    #: table name -> Delta version after this refresh
    versions: dict[str, int] = field(default_factory=dict)


def refresh_feature_tables(
    spark: SparkSession,
    store: FeatureStore,
    tables: RefreshTables,
    source: str | Path = VENDORED,
    max_bad_fraction: float = 0.05,
    reference_fraction: float = 0.2,
    seed: int = 42,
    on_step: Callable[[str], None] = lambda _step: None,
) -> RefreshResult:
    on_step("reading and validating the raw source")
    raw = read_raw(spark, source)
    # Read the file once: every table below derives from these flagged rows.
    flagged = flag_rows(raw).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        report = summarize(flagged)
        check_bad_fraction(report, max_bad_fraction)

        typed = typed_rows(flagged)
        features = build_features(typed)
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
            on_step(f"writing {tables.labels} and {tables.reference}")
            training_labels = training_labels.persist()
            reference = reference.persist()
            versions[tables.labels] = replace_table(
                training_labels, tables.labels, "Churn labels of the customers training may use."
            )
            versions[tables.reference] = replace_table(
                reference, tables.reference, "Held-out labelled customers for model comparison."
            )
        except Exception as exc:
            raise PartialRefreshError(
                f"The refresh failed while writing, after committing {versions or 'nothing'} "
                f"({type(exc).__name__}: {exc}).\n"
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
    )


def _previous_split(spark: SparkSession, tables: RefreshTables) -> DataFrame | None:
    """The split an earlier refresh made, so that customers keep their side (see split.py).

    Materialized, because the tables it reads are about to be replaced."""
    if not (
        spark.catalog.tableExists(tables.labels) and spark.catalog.tableExists(tables.reference)
    ):
        return None
    previous = previous_assignment(spark.table(tables.labels), spark.table(tables.reference))
    return previous.localCheckpoint(eager=True)
