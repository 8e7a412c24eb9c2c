"""Feature store on plain Delta Lake tables (the local environment; any Spark with delta-spark)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from churn_features.errors import FeatureTableError
from churn_features.identifiers import checked_table_name
from churn_features.store.base import Lookup, TableWrite
from churn_features.tables import ensure_database, read_version

PRIMARY_KEY_PROPERTY = "churn.primary_key"


class DeltaFeatureStore:
    """Feature tables are Delta tables in the metastore; the primary key is a table property."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def exists(self, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(name))

    def primary_keys(self, name: str) -> tuple[str, ...]:
        detail = DeltaTable.forName(self.spark, name).detail().first()
        keys = (detail["properties"] or {}).get(PRIMARY_KEY_PROPERTY) if detail else None
        if not keys:
            raise FeatureTableError(
                f"Table {name} is not a feature table (no {PRIMARY_KEY_PROPERTY} property).\n"
                "  fix: create it with create_table, or drop it and rerun feature-table-refresh"
            )
        return tuple(keys.split(","))

    def create_table(
        self, name: str, primary_keys: Sequence[str], schema: StructType, description: str
    ) -> None:
        if self.exists(name):
            existing = self.primary_keys(name)
            if existing != tuple(primary_keys):
                raise FeatureTableError(
                    f"Feature table {name} has primary key {existing}, not {tuple(primary_keys)}.\n"
                    "  fix: use another table name, or drop the table and rerun"
                )
            return
        ensure_database(self.spark, name)
        builder = DeltaTable.createIfNotExists(self.spark).tableName(name).comment(description)
        for column in schema.fields:
            builder = builder.addColumn(
                column.name,
                column.dataType,
                nullable=column.nullable and column.name not in primary_keys,
            )
        # Change data feed: the online store publishes only changed rows from it (Databricks'
        # TRIGGERED publish mode requires it on the source table).
        builder = builder.property(CHANGE_DATA_FEED_PROPERTY, "true")
        builder.property(PRIMARY_KEY_PROPERTY, ",".join(primary_keys)).execute()

    def write_table(self, name: str, df: DataFrame) -> TableWrite:
        """MERGE on the primary key: insert new keys, update changed rows only, delete vanished
        keys. Rerunning with the same input changes no row."""
        return merge_by_key(self.spark, name, df, self.primary_keys(name))

    def read_table(self, name: str, version: int | None = None) -> DataFrame:
        checked_table_name(name, "A feature lookup")
        if not self.exists(name):
            raise FeatureTableError(
                f"Feature table {name} does not exist.\n"
                "  fix: run the feature-table-refresh job first"
            )
        return (
            self.spark.table(name) if version is None else read_version(self.spark, name, version)
        )

    def table_version(self, name: str) -> int | None:
        if not self.exists(name):
            return None
        last = DeltaTable.forName(self.spark, name).history(1).first()
        return int(last["version"]) if last else None

    def create_training_set(
        self,
        df: DataFrame,
        feature_lookups: Sequence[Lookup],
        label: str | None,
        exclude_columns: Sequence[str] = (),
        as_of: Mapping[str, int] | None = None,
    ) -> DataFrame:
        result = df
        for lookup in feature_lookups:
            table = self.read_table(lookup.table_name, (as_of or {}).get(lookup.table_name))
            # A bare string is one key name, not a sequence of one-letter keys.
            keys = (
                (lookup.lookup_key,)
                if isinstance(lookup.lookup_key, str)
                else tuple(lookup.lookup_key)
            )
            missing_keys = [k for k in keys if k not in df.columns]
            if missing_keys:
                raise FeatureTableError(
                    f"The lookup on {lookup.table_name} needs key column(s) {missing_keys}, "
                    "which the input does not have.\n  fix: include the keys in the input"
                )
            names = lookup.feature_names or tuple(c for c in table.columns if c not in keys)
            unknown = [n for n in names if n not in table.columns]
            if unknown:
                raise FeatureTableError(
                    f"Feature table {lookup.table_name} has no column(s) {unknown}.\n"
                    "  fix: look up features the table has (see its schema)"
                )
            # Columns already present in the input win, as in the Databricks feature store.
            wanted = [n for n in names if n not in result.columns]
            features = table.select(*keys, *wanted)
            result = result.join(features, on=list(keys), how="left")
        if label is not None and label not in result.columns:
            raise FeatureTableError(
                f"The label column {label!r} is not in the input.\n  fix: pass the labels table"
            )
        return result.drop(*exclude_columns) if exclude_columns else result


CHANGE_DATA_FEED_PROPERTY = "delta.enableChangeDataFeed"


def merge_by_key(spark: SparkSession, name: str, df: DataFrame, keys: Sequence[str]) -> TableWrite:
    """One Delta commit making table ``name`` hold exactly ``df``: new keys inserted, changed rows
    updated, keys absent from ``df`` deleted; the counts are the commit's own metrics. Both
    stores write through it (a Unity Catalog feature table is a Delta table with a key).

    A table with no data file yet (just created, or every row deleted) takes ``df`` in one
    overwrite: the same rows, counts and change feed as a MERGE into nothing, without the
    MERGE's join and its second pass over the source."""
    target = DeltaTable.forName(spark, name)
    columns = target.toDF().columns
    missing = sorted(set(columns) - set(df.columns))
    if missing:
        raise FeatureTableError(
            f"Rows written to {name} lack column(s) {missing}.\n"
            "  fix: produce every column of the feature table"
        )
    if _has_no_data_file(target):
        df.select(*[f"`{c}`" for c in columns]).write.insertInto(name, overwrite=True)
        return _table_write(name, target, inserted_metric="numOutputRows")
    values = [c for c in columns if c not in keys]
    changed = " OR ".join(f"NOT (t.`{c}` <=> s.`{c}`)" for c in values) or "false"
    on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in keys)
    (
        target.alias("t")
        .merge(df.alias("s"), on)
        .whenMatchedUpdateAll(condition=changed)
        .whenNotMatchedInsertAll()
        .whenNotMatchedBySourceDelete()
        .execute()
    )
    return _table_write(name, target, inserted_metric="numTargetRowsInserted")


def _has_no_data_file(table: DeltaTable) -> bool:
    detail = table.detail().first()
    return detail is not None and int(detail["numFiles"] or 0) == 0


def _table_write(name: str, table: DeltaTable, inserted_metric: str) -> TableWrite:
    """The write as its Delta commit recorded it (version and operation metrics)."""
    last = table.history(1).first()
    assert last is not None
    metrics = {k: int(v) for k, v in (last["operationMetrics"] or {}).items() if v.isdigit()}
    return TableWrite(
        table_name=name,
        version=int(last["version"]),
        rows_inserted=metrics.get(inserted_metric, 0),
        rows_updated=metrics.get("numTargetRowsUpdated", 0),
        rows_deleted=metrics.get("numTargetRowsDeleted", 0),
        metrics=metrics,
    )
