"""The online feature store port: what publishing and low-latency lookup need, whichever store.

An online store holds the current rows of an offline feature table, keyed by its primary key, plus
a record of which offline (Delta) version it holds, so a reader can tell how fresh it is. It has
no Spark in it: rows arrive as Arrow record batches and leave as plain Python values, so a
serving process imports neither pyspark nor a JVM.

Implementations: ``store.postgres.PostgresOnlineStore`` (the local PostgreSQL, or any Postgres such
as a Lakebase instance) and ``store.databricks_online.DatabricksOnlineStore`` (publishing through
databricks-feature-engineering; Model Serving reads it itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class PublishResult:
    """What one publish changed, and the offline version the online table now holds."""

    table_name: str
    source_version: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    rows_total: int
    published_at: datetime

    @property
    def rows_changed(self) -> int:
        return self.rows_inserted + self.rows_updated + self.rows_deleted


@dataclass(frozen=True)
class PublishedVersion:
    """Freshness of an online table: which offline version it holds, since when."""

    table_name: str
    source_version: int
    published_at: datetime
    rows_total: int


class OnlineStore(Protocol):
    def publish(
        self,
        table_name: str,
        primary_keys: Sequence[str],
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        source_version: int,
    ) -> PublishResult:
        """Make the online table equal to ``batches`` (the offline table at ``source_version``):
        insert new keys, update changed rows only, delete keys absent from ``batches``, and
        record ``source_version`` — all in one transaction (readers see old or new, never a mix).
        """
        ...

    def published_version(self, table_name: str) -> PublishedVersion | None:
        """The offline version the online table holds, or None if it was never published."""
        ...

    def lookup(
        self, table_name: str, key: str, values: Sequence[Any], feature_names: Sequence[str]
    ) -> dict[Any, tuple[Any, ...]]:
        """Rows whose ``key`` is in ``values``: key -> feature values in ``feature_names`` order.

        Keys without a row are absent from the result (the caller reports them per row).
        """
        ...

    def close(self) -> None: ...
