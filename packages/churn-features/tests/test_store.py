import pytest
from conftest import FeatureLookup
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from churn_features.errors import FeatureTableError
from churn_features.store.delta import DeltaFeatureStore

SCHEMA = "customer_id string, tenure int, contract string"


def make_table(spark: SparkSession, store: DeltaFeatureStore, name: str, rows: list) -> None:
    df = spark.createDataFrame(rows, SCHEMA)
    store.create_table(name, ["customer_id"], df.schema, "test features")
    store.write_table(name, df)


def test_merge_is_idempotent_and_tracks_changes(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    name = f"{database}.features"
    rows = [("a", 1, "One year"), ("b", 2, "Two year"), ("c", 3, None)]
    make_table(spark, store, name, rows)
    before = spark.table(name).collect()
    properties = spark.sql(f"SHOW TBLPROPERTIES {name}").collect()
    assert {r.key: r.value for r in properties}.get("delta.enableChangeDataFeed") == "true"

    again = store.write_table(name, spark.createDataFrame(rows, SCHEMA))
    assert (again.rows_inserted, again.rows_updated, again.rows_deleted) == (0, 0, 0)
    assertDataFrameEqual(spark.table(name), before)

    changed = store.write_table(
        name,
        spark.createDataFrame([("a", 1, "One year"), ("b", 5, "Two year"), ("d", 4, None)], SCHEMA),
    )
    assert (changed.rows_inserted, changed.rows_updated, changed.rows_deleted) == (1, 1, 1)
    assert sorted(tuple(r) for r in spark.table(name).collect()) == [
        ("a", 1, "One year"),
        ("b", 5, "Two year"),
        ("d", 4, None),
    ]
    assert store.table_version(name) == changed.version


def test_the_first_write_of_a_new_table_commits_what_a_merge_would(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    """A new table takes its first rows in one overwrite: the rows, counts and change feed a MERGE
    into an empty table gives, columns matched by name, the key still NOT NULL; later writes
    MERGE."""
    name = f"{database}.first_write"
    schema = spark.createDataFrame([], SCHEMA).schema
    store.create_table(name, ["customer_id"], schema, "test features")
    reordered = spark.createDataFrame(
        [(1, "One year", "a"), (2, None, "b")], "tenure int, contract string, customer_id string"
    )
    first = store.write_table(name, reordered)
    assert (first.rows_inserted, first.rows_updated, first.rows_deleted) == (2, 0, 0)
    assert first.version == 1 == store.table_version(name)
    assert sorted(tuple(r) for r in spark.table(name).collect()) == [
        ("a", 1, "One year"),
        ("b", 2, None),
    ]
    changes = spark.sql(f"SELECT customer_id, _change_type FROM table_changes('{name}', 1)")
    assert sorted(tuple(r) for r in changes.collect()) == [("a", "insert"), ("b", "insert")]
    key = next(f for f in spark.table(name).schema.fields if f.name == "customer_id")
    assert key.nullable is False

    second = store.write_table(
        name, spark.createDataFrame([("a", 1, "One year"), ("b", 3, None)], SCHEMA)
    )
    assert (second.rows_inserted, second.rows_updated, second.rows_deleted) == (0, 1, 0)
    operations = [
        r["operation"] for r in spark.sql(f"DESCRIBE HISTORY {name}").orderBy("version").collect()
    ]
    assert operations == ["CREATE TABLE", "WRITE", "MERGE"]


class FakeFeatureEngineeringClient:
    """Stands in for databricks-feature-engineering's client (Databricks-only), answering
    ``get_table`` with what Unity Catalog holds: a FeatureTable whose ``primary_keys`` are the
    table's key (docs.databricks.com, feature-store entities: FeatureTable(..., primary_keys)).
    A table without a key is not a feature table."""

    def __init__(self, keys: dict[str, list[str]]) -> None:
        self.keys = keys

    def get_table(self, name: str) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(name=name, primary_keys=self.keys.get(name, []))


def test_the_databricks_store_deletes_vanished_customers_and_counts_like_delta(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    from churn_features.store.databricks import DatabricksFeatureStore

    name = f"{database}.features"
    make_table(spark, store, name, [("a", 1, "One year"), ("b", 2, "Two year"), ("c", 3, None)])
    databricks = DatabricksFeatureStore(FakeFeatureEngineeringClient({name: ["customer_id"]}))
    written = databricks.write_table(
        name, spark.createDataFrame([("a", 1, "One year"), ("b", 7, "Two year")], SCHEMA)
    )
    assert (written.rows_inserted, written.rows_updated, written.rows_deleted) == (0, 1, 1)
    assert sorted(r.customer_id for r in spark.table(name).collect()) == ["a", "b"]
    assert written.version == store.table_version(name)

    keyless = DatabricksFeatureStore(FakeFeatureEngineeringClient({}))
    with pytest.raises(FeatureTableError, match="no primary key"):
        keyless.write_table(name, spark.table(name))


def test_create_table_refuses_another_primary_key(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    name = f"{database}.features"
    make_table(spark, store, name, [("a", 1, "x")])
    with pytest.raises(FeatureTableError, match="primary key"):
        store.create_table(name, ["tenure"], spark.table(name).schema, "other")


def test_training_set_looks_features_up_and_keeps_unknown_keys(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    name = f"{database}.features"
    make_table(spark, store, name, [("a", 1, "One year"), ("b", 2, "Two year")])
    labels = spark.createDataFrame(
        [("a", 1, 99), ("b", 0, None), ("zz", 1, 7)], "customer_id string, churn int, tenure int"
    )
    training = store.create_training_set(
        labels, [FeatureLookup(name, "customer_id", ["tenure", "contract"])], label="churn"
    )
    got = sorted(
        tuple(r) for r in training.select("customer_id", "churn", "tenure", "contract").collect()
    )
    # the input's own tenure wins over the table's; an unknown key keeps null features
    assert got == [("a", 1, 99, "One year"), ("b", 0, None, "Two year"), ("zz", 1, 7, None)]


def test_lookups_name_unknown_features_and_tables(
    spark: SparkSession, store: DeltaFeatureStore, database: str
) -> None:
    name = f"{database}.features"
    make_table(spark, store, name, [("a", 1, "x")])
    keys = spark.createDataFrame([("a", 1)], "customer_id string, churn int")
    with pytest.raises(FeatureTableError, match=r"no column\(s\) \['nope'\]"):
        store.create_training_set(keys, [FeatureLookup(name, feature_names=["nope"])], "churn")
    with pytest.raises(FeatureTableError, match="does not exist"):
        store.create_training_set(keys, [FeatureLookup(f"{database}.missing")], "churn")
