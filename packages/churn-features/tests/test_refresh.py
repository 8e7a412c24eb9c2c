from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FeatureLookup, raw_row, write_csv
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from churn_features.deletion_guard import DeletionGuard
from churn_features.errors import (
    ChurnFeaturesError,
    InvalidTableNameError,
    MissingColumnsError,
    TooManyBadRowsError,
    TooManyDeletionsError,
)
from churn_features.refresh import RefreshResult, RefreshTables, refresh_feature_tables
from churn_features.refresh_log import last_completed_refresh
from churn_features.store.delta import DeltaFeatureStore
from churn_features.tables import table_version


def tables_in(database: str) -> RefreshTables:
    return RefreshTables(
        bronze=f"{database}.bronze",
        quarantine=f"{database}.quarantine",
        features=f"{database}.features",
        labels=f"{database}.labels",
        reference=f"{database}.reference",
    )


def versions(spark: SparkSession, tables: RefreshTables) -> dict[str, int | None]:
    names = [tables.bronze, tables.quarantine, tables.features, tables.labels, tables.reference]
    return {name: table_version(spark, name) for name in names}


@dataclass(frozen=True)
class Refreshed:
    tables: RefreshTables
    first: RefreshResult
    #: every refresh of these tables that completed, in order (tests that refresh them add theirs)
    completed: list[RefreshResult]


@pytest.fixture(scope="module")
def refreshed(spark: SparkSession) -> Iterator[Refreshed]:
    """Tables holding a complete refresh of the vendored data, shared by the tests that leave
    them holding it: rerunning it, failing without writing (each compares the tables' versions
    before and after itself), only reading, and crashing a rerun of the same source (same
    content; only the log then lags the tables). A refresh of 7,043 rows per test would prove
    nothing more."""
    name = "t_refreshed_once"
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
    spark.sql(f"CREATE DATABASE {name}")
    tables = tables_in(name)
    first = refresh_feature_tables(spark, DeltaFeatureStore(spark), tables)
    yield Refreshed(tables, first, [first])
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def test_refresh_of_the_real_data_twice_leaves_the_feature_table_unchanged(
    spark: SparkSession, store: DeltaFeatureStore, refreshed: Refreshed
) -> None:
    tables, first = refreshed.tables, refreshed.first
    assert first.report.rows_read == 7043
    assert first.report.rows_quarantined == 0
    assert first.features_write.rows_inserted == 7043
    assert first.labels_rows + first.reference_rows == 7043
    features_before = spark.table(tables.features).collect()
    reference_before = spark.table(tables.reference).collect()

    second = refresh_feature_tables(spark, store, tables)
    refreshed.completed.append(second)
    w = second.features_write
    assert (w.rows_inserted, w.rows_updated, w.rows_deleted) == (0, 0, 0)
    assertDataFrameEqual(spark.table(tables.features), features_before)
    assertDataFrameEqual(spark.table(tables.reference), reference_before)


def test_bad_rows_are_quarantined_with_reasons_and_the_rest_is_written(
    spark: SparkSession, store: DeltaFeatureStore, database: str, tmp_path: Path
) -> None:
    rows = [raw_row(customerID=f"C-{i}", Churn="Yes" if i % 3 else "No") for i in range(30)]
    rows += [raw_row(customerID="BAD", Contract="Lifetime")]
    tables = tables_in(database)
    result = refresh_feature_tables(
        spark, store, tables, source=write_csv(tmp_path / "s.csv", rows), max_bad_fraction=0.1
    )
    assert result.report.by_reason == {"unknown_category": 1}
    quarantine = spark.table(tables.quarantine).collect()
    assert [(r["customerID"], r["reason"]) for r in quarantine] == [
        ("BAD", "unknown_category:Contract")
    ]
    assert spark.table(tables.features).count() == 30
    assert spark.table(tables.bronze).count() == 31, "bronze keeps every row as read"


@pytest.mark.parametrize("failure", ["too_many_bad_rows", "missing_column", "unreadable"])
def test_a_failing_source_writes_nothing(
    spark: SparkSession,
    store: DeltaFeatureStore,
    refreshed: Refreshed,
    tmp_path: Path,
    failure: str,
) -> None:
    tables = refreshed.tables  # a good first state
    before = versions(spark, tables)
    features_before = spark.table(tables.features).collect()

    if failure == "too_many_bad_rows":
        rows = [raw_row(customerID=f"C-{i}", Churn="?" if i < 5 else "No") for i in range(20)]
        source, error = write_csv(tmp_path / "bad.csv", rows), TooManyBadRowsError
    elif failure == "missing_column":
        source = write_csv(tmp_path / "m.csv", [raw_row()], columns=("customerID", "Churn"))
        error = MissingColumnsError
    else:
        source, error = tmp_path / "missing.csv", ChurnFeaturesError
    with pytest.raises(error):
        refresh_feature_tables(spark, store, tables, source=source, max_bad_fraction=0.05)

    assert versions(spark, tables) == before
    assertDataFrameEqual(spark.table(tables.features), features_before)


@pytest.mark.parametrize("concurrently", [True, False], ids=["concurrent", "one-by-one"])
def test_a_failure_between_writes_names_what_was_committed(
    spark: SparkSession, store: DeltaFeatureStore, database: str, concurrently: bool
) -> None:
    from churn_features.errors import PartialRefreshError

    tables = tables_in(database)
    # the labels table name is taken by a view: that write fails, the others commit; one by one,
    # the writes after it (the reference) never start
    spark.sql(f"CREATE VIEW {tables.labels} AS SELECT 1 AS x")
    with pytest.raises(PartialRefreshError, match="after committing") as failed:
        refresh_feature_tables(spark, store, tables, concurrent_writes=concurrently)
    message = str(failed.value)
    assert message.startswith(f"The refresh failed writing {tables.labels} (")
    committed = message.split("after committing", 1)[1]
    for written in (tables.bronze, tables.quarantine, tables.features):
        assert f"'{written}'" in committed
    assert (f"'{tables.reference}'" in committed) is concurrently
    assert tables.labels not in committed
    assert not spark.catalog.tableExists(tables.refresh_log), "no log row: nothing is read"


def vendored_rows() -> list[dict[str, str]]:
    import csv
    import gzip

    from churn_features.dataset import vendored_csv_path

    with gzip.open(vendored_csv_path(), "rt", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_truncated_source_is_refused_before_anything_is_written(
    spark: SparkSession, store: DeltaFeatureStore, database: str, tmp_path: Path
) -> None:
    tables = tables_in(database)
    refresh_feature_tables(spark, store, tables)
    before = versions(spark, tables)
    truncated = write_csv(tmp_path / "truncated.csv", vendored_rows()[:300])

    with pytest.raises(TooManyDeletionsError, match=r"delete 6,743 of the 7,043 customers") as e:
        refresh_feature_tables(
            spark, store, tables, source=truncated, guard=DeletionGuard(max_deleted_fraction=0.1)
        )
    assert "Nothing was written" in str(e.value)
    assert "fix:" in str(e.value)
    assert versions(spark, tables) == before
    assert spark.table(tables.features).count() == 7043
    assert last_completed_refresh(spark, tables.refresh_log) is not None

    # A planned purge goes through when the guard is raised on purpose.
    purged = refresh_feature_tables(
        spark, store, tables, source=truncated, guard=DeletionGuard(max_deleted_fraction=1.0)
    )
    assert (purged.customer_loss.previous, purged.customer_loss.deleted) == (7043, 6743)
    assert spark.table(tables.features).count() == 300


def test_a_source_with_fewer_rows_than_min_rows_is_refused(
    spark: SparkSession, store: DeltaFeatureStore, database: str, tmp_path: Path
) -> None:
    tables = tables_in(database)
    small = write_csv(tmp_path / "small.csv", [raw_row(customerID=f"C-{i}") for i in range(20)])
    with pytest.raises(TooManyDeletionsError, match=r"20 valid rows, fewer than min_rows \(100\)"):
        refresh_feature_tables(
            spark, store, tables, source=small, guard=DeletionGuard(min_rows=100)
        )
    assert set(versions(spark, tables).values()) == {None}, "nothing was created"
    assert not spark.catalog.tableExists(tables.refresh_log)


def test_each_completed_refresh_is_logged_last_with_every_tables_version(
    spark: SparkSession, store: DeltaFeatureStore, refreshed: Refreshed
) -> None:
    tables = refreshed.tables
    assert tables.refresh_log == "t_refreshed_once.features_refresh_log"
    first = refreshed.completed[-1]
    logged = last_completed_refresh(spark, tables.refresh_log)
    assert logged is not None
    assert logged.refresh_id == first.refresh_id
    assert logged.versions == first.versions == versions(spark, tables)

    # The next refresh dies after every table's commit, before its log row: the log still names
    # the first, complete set.
    from churn_features.errors import PartialRefreshError

    def crash_before_the_log(step: str) -> None:
        if step == f"recording the refresh in {tables.refresh_log}":
            raise RuntimeError("simulated crash")

    with pytest.raises(PartialRefreshError, match="last completed one"):
        refresh_feature_tables(spark, store, tables, on_step=crash_before_the_log)
    after_crash = last_completed_refresh(spark, tables.refresh_log)
    assert after_crash is not None
    assert after_crash.refresh_id == first.refresh_id
    for replaced in (tables.bronze, tables.labels, tables.reference):
        assert table_version(spark, replaced) != first.versions[replaced]


def test_feature_lookups_read_the_versions_they_are_given(
    spark: SparkSession, store: DeltaFeatureStore, database: str, tmp_path: Path
) -> None:
    tables = tables_in(database)
    rows = [raw_row(customerID=f"C-{i}", tenure="5") for i in range(10)]
    first = refresh_feature_tables(spark, store, tables, source=write_csv(tmp_path / "a.csv", rows))
    # a later version of the features (a second refresh would write one too, at 5 s more)
    spark.sql(f"UPDATE {tables.features} SET tenure = 7")
    assert table_version(spark, tables.features) == first.versions[tables.features] + 1
    lookup = FeatureLookup(tables.features, ("customer_id",), ("tenure",))
    keys = spark.table(tables.labels)

    pinned = store.create_training_set(keys, [lookup], label="churn", as_of=first.versions)
    current = store.create_training_set(keys, [lookup], label="churn")
    assert {r["tenure"] for r in pinned.collect()} == {5}
    assert {r["tenure"] for r in current.collect()} == {7}


def test_a_lookup_naming_sql_instead_of_a_table_is_refused(
    spark: SparkSession, store: DeltaFeatureStore, refreshed: Refreshed
) -> None:
    tables = refreshed.tables
    forged = FeatureLookup(f"x; DROP TABLE {tables.features}", ("customer_id",), ("tenure",))
    keys = spark.table(tables.labels)
    with pytest.raises(InvalidTableNameError, match=r"'x; DROP TABLE .*', which is not a table"):
        store.create_training_set(keys, [forged], label="churn")
    with pytest.raises(InvalidTableNameError, match="fix:"):
        store.read_table("churn.features`; --")
    assert spark.catalog.tableExists(tables.features)
