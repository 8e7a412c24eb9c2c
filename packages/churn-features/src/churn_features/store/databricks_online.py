"""The online store on Databricks: a Lakebase online feature store, published through
databricks-feature-engineering (``FeatureEngineeringClient.publish_table``).

Install with ``churn-features[databricks]``; it runs only in a workspace, so it is kept thin and
what can be checked here is the arguments it builds. Databricks publishes from the Delta table
itself (the ``TRIGGERED`` mode syncs the changes since the last publish through the table's change
data feed, which must be enabled), so ``publish`` takes the table name and version rather than
rows. Model Serving looks features up in this store by the model's feature spec; a process outside
Databricks can read the same Lakebase (Postgres) tables with ``PostgresOnlineStore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from churn_features.errors import OnlineStoreError

PublishMode = Literal["TRIGGERED", "CONTINUOUS", "SNAPSHOT"]


@dataclass(frozen=True)
class LakebasePublish:
    """One ``publish_table`` call: which Delta table goes to which online table, and how."""

    source_table_name: str
    online_store_name: str
    online_table_name: str | None = None
    publish_mode: PublishMode = "TRIGGERED"

    def __post_init__(self) -> None:
        if self.source_table_name.count(".") != 2:
            raise OnlineStoreError(
                f"Databricks publishes Unity Catalog tables (catalog.schema.table), not "
                f"{self.source_table_name!r}.\n  fix: set a catalog in the environment"
            )
        if self.publish_mode not in ("TRIGGERED", "CONTINUOUS", "SNAPSHOT"):
            raise OnlineStoreError(
                f"Unknown publish mode {self.publish_mode!r}.\n"
                "  fix: use TRIGGERED, CONTINUOUS or SNAPSHOT"
            )

    @property
    def target_table_name(self) -> str:
        """The online table: by default the source name with an ``_online`` suffix."""
        return self.online_table_name or f"{self.source_table_name}_online"

    def kwargs(self, online_store: Any) -> dict[str, Any]:
        """The keyword arguments of ``FeatureEngineeringClient.publish_table``."""
        return {
            "online_store": online_store,
            "source_table_name": self.source_table_name,
            "online_table_name": self.target_table_name,
            "publish_mode": self.publish_mode,
        }


class DatabricksOnlineStore:
    """Publishes feature tables to a Lakebase online store by name."""

    def __init__(self, online_store_name: str, client: Any | None = None) -> None:
        if client is None:
            try:
                from databricks.feature_engineering import FeatureEngineeringClient
            except ImportError:
                raise OnlineStoreError(
                    "databricks-feature-engineering is not installed.\n"
                    "  fix: pip install 'churn-features[databricks]' (on a Databricks cluster)"
                ) from None
            client = FeatureEngineeringClient()
        self.client = client
        self.online_store_name = online_store_name

    def publish_table(
        self,
        source_table_name: str,
        source_version: int,
        *,
        online_table_name: str | None = None,
        publish_mode: PublishMode = "TRIGGERED",
    ) -> tuple[LakebasePublish, datetime]:
        """Publish ``source_table_name``; returns the call made and when. ``source_version``
        is the version the caller read (Databricks records the synced version itself)."""
        call = LakebasePublish(
            source_table_name, self.online_store_name, online_table_name, publish_mode
        )
        store = self.client.get_online_store(name=self.online_store_name)
        if store is None:
            raise OnlineStoreError(
                f"The online store {self.online_store_name!r} does not exist "
                f"(publishing version {source_version} of {source_table_name}).\n"
                "  fix: create it with FeatureEngineeringClient.create_online_store"
            )
        self.client.publish_table(**call.kwargs(store))
        return call, datetime.now(UTC)
