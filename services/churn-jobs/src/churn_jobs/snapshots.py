"""Which table versions a job reads: those of the last completed feature-table refresh.

A refresh commits its tables one after another and records itself in the refresh log last. Jobs
that train on, validate against or compare models on these tables resolve one ``TableSnapshot``
and read every table through it (Delta time travel), so a refresh that is running, or that was
killed between two commits, is never mixed into their input. Tables the refresh does not write
are read at their current version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from churn_jobs.context import JobContext

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from churn_features.refresh_log import CompletedRefresh


@dataclass(frozen=True)
class TableSnapshot:
    spark: SparkSession
    refresh: CompletedRefresh

    @property
    def versions(self) -> dict[str, int]:
        """Table name -> the version to read (for ``FeatureStore.create_training_set(as_of=)``)."""
        return dict(self.refresh.versions)

    def version(self, table: str) -> int | None:
        """The version of ``table`` to read (None: not written by the refresh, read as it is)."""
        return self.refresh.versions.get(table)

    def read(self, table: str) -> DataFrame:
        """``table`` at the snapshot's version; a name that is not a table name is refused."""
        from churn_features.identifiers import checked_table_name
        from churn_features.tables import read_version

        checked_table_name(table, "A job reading the feature tables")
        version = self.version(table)
        if version is None:
            from churn_features.store.delta import DeltaFeatureStore

            return DeltaFeatureStore(self.spark).read_table(table)  # says so if it is missing
        return read_version(self.spark, table, version)


def table_snapshot(ctx: JobContext) -> TableSnapshot:
    """The tables as the last completed refresh left them; a clear error if none completed."""
    from churn_features.errors import NoCompletedRefreshError
    from churn_features.refresh_log import last_completed_refresh

    log = ctx.table(ctx.runtime.tables.refresh_log)
    refresh = last_completed_refresh(ctx.spark, log)
    if refresh is None:
        raise NoCompletedRefreshError(
            f"No completed feature-table refresh is recorded in {log}, so there is no consistent "
            "set of feature, label and reference tables to read.\n"
            "  fix: run the feature-table-refresh job (churn run feature-table-refresh)"
        )
    return TableSnapshot(ctx.spark, refresh)
