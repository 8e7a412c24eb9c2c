"""Feature store on Databricks (Unity Catalog feature tables via databricks-feature-engineering).

Install with ``churn-features[databricks]``. It cannot run outside a Databricks workspace, so it
is kept thin: each method maps to one FeatureEngineeringClient call with the same meaning as the
Delta implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql.types import StructType

from churn_features.errors import FeatureTableError
from churn_features.identifiers import checked_table_name, quote_identifier
from churn_features.store.base import Lookup, TableWrite


class DatabricksFeatureStore:
    def __init__(self, client: Any | None = None) -> None:
        if client is None:
            try:
                from databricks.feature_engineering import FeatureEngineeringClient
            except ImportError:
                raise FeatureTableError(
                    "databricks-feature-engineering is not installed.\n"
                    "  fix: pip install 'churn-features[databricks]' (on a Databricks cluster)"
                ) from None
            client = FeatureEngineeringClient()
        self.client = client

    def create_table(
        self, name: str, primary_keys: Sequence[str], schema: StructType, description: str
    ) -> None:
        try:
            self.client.get_table(name=name)
        except Exception:  # the client raises a generic error for a missing table
            from churn_features.store.delta import CHANGE_DATA_FEED_PROPERTY

            self.client.create_table(
                name=name, primary_keys=list(primary_keys), schema=schema, description=description
            )
            # the Lakebase publish in TRIGGERED mode reads the change data feed
            self._spark().sql(
                f"ALTER TABLE {quote_identifier(name)} "
                f"SET TBLPROPERTIES ('{CHANGE_DATA_FEED_PROPERTY}' = 'true')"
            )

    def write_table(self, name: str, df: DataFrame) -> TableWrite:
        """The Delta store's MERGE (``delta.merge_by_key``) on the feature table's primary key as
        Unity Catalog records it: new keys inserted, changed rows updated, vanished customers
        deleted, real counts. (``FeatureEngineeringClient.write_table(mode="merge")`` never
        deletes a key and reports no counts.)"""
        from churn_features.store.delta import merge_by_key

        keys = list(getattr(self.client.get_table(name=name), "primary_keys", None) or [])
        if not keys:
            raise FeatureTableError(
                f"{name} has no primary key in Unity Catalog: it is not a feature table.\n"
                "  fix: create it with create_table (FeatureEngineeringClient.create_table)"
            )
        return merge_by_key(self._spark(), name, df, keys)

    def read_table(self, name: str, version: int | None = None) -> DataFrame:
        checked_table_name(name, "A feature lookup")
        if version is None:
            return self.client.read_table(name=name)
        from churn_features.store.delta import DeltaFeatureStore

        return DeltaFeatureStore(self._spark()).read_table(name, version)

    @staticmethod
    def _spark() -> Any:
        from pyspark.sql import SparkSession

        return SparkSession.active()

    def table_version(self, name: str) -> int | None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()
        if spark is None or not spark.catalog.tableExists(name):
            return None
        row = spark.sql(f"DESCRIBE HISTORY {quote_identifier(name)} LIMIT 1").first()
        return int(row["version"]) if row else None

    def create_training_set(
        self,
        df: DataFrame,
        feature_lookups: Sequence[Lookup],
        label: str | None,
        exclude_columns: Sequence[str] = (),
        as_of: Mapping[str, int] | None = None,
    ) -> DataFrame:
        for lookup in feature_lookups:
            checked_table_name(lookup.table_name, "A feature lookup")
        if as_of and any(lookup.table_name in as_of for lookup in feature_lookups):
            # The client looks features up at their current version only; pinned versions are
            # read with Delta time travel and joined as the Delta store does (same semantics).
            from churn_features.store.delta import DeltaFeatureStore

            return DeltaFeatureStore(self._spark()).create_training_set(
                df, feature_lookups, label, exclude_columns, as_of
            )
        from databricks.feature_engineering import FeatureLookup as DatabricksLookup

        lookups = [
            DatabricksLookup(
                table_name=lookup.table_name,
                lookup_key=(
                    lookup.lookup_key
                    if isinstance(lookup.lookup_key, str)
                    else list(lookup.lookup_key)
                ),
                feature_names=list(lookup.feature_names) if lookup.feature_names else None,
            )
            for lookup in feature_lookups
        ]
        training_set = self.client.create_training_set(
            df=df, feature_lookups=lookups, label=label, exclude_columns=list(exclude_columns)
        )
        return training_set.load_df()
