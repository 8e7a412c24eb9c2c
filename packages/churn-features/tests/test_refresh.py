from pathlib import Path

import pytest
from conftest import raw_row, write_csv
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from churn_features.errors import ChurnFeaturesError, MissingColumnsError, TooManyBadRowsError
from churn_features.refresh import RefreshTables, refresh_feature_tables
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


def test_refresh_of_the_real_data_twice_leaves_the_feature_table_unchanged(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    tables = tables_in(database)
    first = refresh_feature_tables(spark, store, tables)
    assert first.report.rows_read == 7043
    assert first.report.rows_quarantined == 0
    assert first.features_write.rows_inserted == 7043
    assert first.labels_rows + first.reference_rows == 7043
    features_before = spark.table(tables.features).collect()
    reference_before = spark.table(tables.reference).collect()

    second = refresh_feature_tables(spark, store, tables)
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
    spark: SparkSession, store: DeltaFeatureStore, database: str, tmp_path: Path, failure: str
) -> None:
    tables = tables_in(database)
    refresh_feature_tables(spark, store, tables)  # a good first state
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


def test_a_failure_between_writes_names_what_was_committed(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    from churn_features.errors import PartialRefreshError

    tables = tables_in(database)
    # the labels table name is taken by a view: that write fails after three commits
    spark.sql(f"CREATE VIEW {tables.labels} AS SELECT 1 AS x")
    with pytest.raises(PartialRefreshError, match="after committing") as failed:
        refresh_feature_tables(spark, store, tables)
    for written in (tables.bronze, tables.quarantine, tables.features):
        assert written in str(failed.value)
    assert tables.reference not in str(failed.value)
