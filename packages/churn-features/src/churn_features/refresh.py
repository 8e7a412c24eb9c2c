"""The feature-table refresh: raw source -> bronze, quarantine, features, labels, reference.

Everything is read, validated and checked before the first write, so a bad source (unreadable,
missing columns, too many bad rows, one that would delete most customers) writes nothing. Each
table write is one Delta transaction, and the last commit is a row in the refresh log naming every
table's version (see refresh_log.py): readers take the tables at those versions, so a refresh that
dies between two commits is never half-read.

The five table writes are independent (each derives from the same validated rows), so they run
concurrently, one Spark job per thread: a small table's write is mostly driver-side work (planning,
the Delta commit, the catalog update) that overlaps well. Only the log row waits for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.util import inheritable_thread_target

from churn_features.contract import KEY
from churn_features.deletion_guard import CustomerLoss, DeletionGuard, check_customer_loss
from churn_features.errors import PartialRefreshError
from churn_features.featurize import build_features, build_labels
from churn_features.ingest import VENDORED, read_raw
from churn_features.refresh_log import last_completed_refresh, record_refresh
from churn_features.split import previous_assignment, reference_split
from churn_features.store.base import FeatureStore, TableWrite
from churn_features.tables import ensure_database, read_version, replace_table
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
    concurrent_writes: bool = True,
) -> RefreshResult:
    """Refresh every table from ``source``; ``guard`` (default ``DeletionGuard()``) refuses a
    source that would delete too many customers; ``concurrent_writes=False`` writes the tables one
    after another. See the module docstring for the guarantees."""
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
        training_labels = training_labels.persist()
        reference = reference.persist()
        try:
            features_write, versions, refresh_id = _write_tables(
                spark,
                store,
                tables,
                features,
                {
                    tables.bronze: (bronze_rows(flagged), "Raw telco rows as ingested (strings)."),
                    tables.quarantine: (
                        quarantined_rows(flagged),
                        "Raw rows that failed validation, each with its reasons.",
                    ),
                    tables.labels: (
                        training_labels,
                        "Churn labels of the customers training may use.",
                    ),
                    tables.reference: (
                        reference,
                        "Held-out labelled customers for model comparison.",
                    ),
                },
                str(source),
                on_step,
                concurrent_writes,
            )
            labels_rows, reference_rows = training_labels.count(), reference.count()
        finally:
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


def _write_tables(
    spark: SparkSession,
    store: FeatureStore,
    tables: RefreshTables,
    features: DataFrame,
    replaced: Mapping[str, tuple[DataFrame, str]],
    source: str,
    on_step: Callable[[str], None],
    concurrently: bool,
) -> tuple[TableWrite, dict[str, int], str]:
    """MERGE ``features`` and replace each table of ``replaced`` (name -> rows, description),
    then append the log row that completes the refresh. Returns the MERGE, every table's new
    version and the log row's id."""
    store.create_table(tables.features, [KEY], features.schema, FEATURES_DESCRIPTION)
    for name in replaced:
        ensure_database(spark, name)  # before the writes, so that they never race to create it
    writes: dict[str, Callable[[], Any]] = {  # the MERGE first: it takes longest
        tables.features: partial(store.write_table, tables.features, features),
        **{name: partial(replace_table, df, name, text) for name, (df, text) in replaced.items()},
    }
    on_step(
        f"writing the {len(writes)} tables {'concurrently ' if concurrently else ''}"
        "(features MERGE, bronze, quarantine, labels, reference)"
    )
    done, failed = _run_all(spark, writes, concurrently)
    versions = {
        name: result.version if isinstance(result, TableWrite) else result
        for name, result in done.items()
    }
    if not failed:
        try:
            on_step(f"recording the refresh in {tables.refresh_log}")
            refresh_id = record_refresh(spark, tables.refresh_log, versions, source)
            return done[tables.features], versions, refresh_id
        except Exception as exc:
            failed = {tables.refresh_log: exc}
    raise _partial(failed, versions, tables) from next(iter(failed.values()))


def _run_all(
    spark: SparkSession, writes: Mapping[str, Callable[[], Any]], concurrently: bool
) -> tuple[dict[str, Any], dict[str, Exception]]:
    """Run the writes; return each one's result and each failure, by name, in ``writes``' order.

    Concurrently, every write runs to its end even when another fails, so the caller knows exactly
    what was committed (a Spark job cannot be taken back half-way anyway); one after another, the
    first failure stops the rest. The threads inherit the caller's Spark local properties and tags
    (``inheritable_thread_target``): a job's scheduler pool or run tags reach every Spark job."""
    done: dict[str, Any] = {}
    failed: dict[str, Exception] = {}
    if not concurrently:
        for name, write in writes.items():
            try:
                done[name] = write()
            except Exception as exc:
                failed[name] = exc
                break
        return done, failed
    with ThreadPoolExecutor(len(writes), thread_name_prefix="churn-refresh-write") as pool:
        futures = {
            name: pool.submit(inheritable_thread_target(spark)(write))
            for name, write in writes.items()
        }
    for name, future in futures.items():  # leaving the pool waited for every write
        error = future.exception()
        if error is None:
            done[name] = future.result()
        elif isinstance(error, Exception):
            failed[name] = error
        else:
            raise error
    return done, failed


def _partial(
    failed: Mapping[str, Exception], versions: Mapping[str, int], tables: RefreshTables
) -> PartialRefreshError:
    errors = "; ".join(f"{name} ({type(exc).__name__}: {exc})" for name, exc in failed.items())
    return PartialRefreshError(
        f"The refresh failed writing {errors}, after committing {dict(versions) or 'nothing'}. "
        f"Until a refresh completes, jobs keep reading the tables of the last completed one "
        f"(see {tables.refresh_log}).\n"
        "  fix: rerun it; every write replaces or MERGEs, so a rerun completes the set"
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
