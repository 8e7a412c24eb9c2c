"""feature-publish: the feature table's current Delta version into the online store.

Runs after feature-table-refresh. Locally the online store is the embedded PostgreSQL under
CHURN_HOME (started if needed): the exact Delta version read is published (upsert changed rows,
delete vanished customers) and recorded, so a reader can tell how fresh it is. On Databricks the
table is published to the Lakebase online store through databricks-feature-engineering.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError
from churn_jobs.progress import steps
from churn_jobs.settings import StrictModel


class Params(StrictModel):
    table: str = Field(
        default="churn_features",
        description="Feature table to publish (short name in the environment's schema, or a "
        "qualified name).",
    )
    start_store: bool = Field(
        default=True, description="Local only: start the embedded PostgreSQL if it is not running."
    )
    online_store_name: str = Field(
        default="churn-online-store",
        description="Databricks only: the Lakebase online store (FeatureEngineeringClient).",
    )
    publish_mode: Literal["TRIGGERED", "CONTINUOUS", "SNAPSHOT"] = "TRIGGERED"


@dataclass(frozen=True)
class PublishSummary:
    table: str
    target: str
    source_version: int
    rows_inserted: int | None
    rows_updated: int | None
    rows_deleted: int | None
    rows_total: int | None
    published_at: datetime
    seconds: float


def run(ctx: JobContext, params: Params) -> PublishSummary:
    from churn_features.tables import table_version

    table = params.table if "." in params.table else ctx.table(params.table)
    started = time.perf_counter()
    with steps(ctx.console, "feature-publish") as step:
        step(f"reading the version of {table}")
        version = table_version(ctx.spark, table)
        if version is None:
            raise UserError(
                f"The feature table {table} does not exist.",
                "run the feature-table-refresh job first (`churn run feature-table-refresh`)",
            )
        if ctx.runtime.platform == "databricks":
            summary = _publish_to_lakebase(ctx, params, table, version, step)
        else:
            summary = _publish_to_postgres(ctx, params, table, version, step)
    summary = PublishSummary(**{**summary.__dict__, "seconds": time.perf_counter() - started})
    render(ctx, summary)
    return summary


def _publish_to_postgres(
    ctx: JobContext, params: Params, table: str, version: int, step: Callable[[str], None]
) -> PublishSummary:
    from churn_features.store.delta import DeltaFeatureStore
    from churn_jobs.online_store import LocalOnlineStore

    local = LocalOnlineStore(ctx.home)
    if params.start_store:
        step(f"starting the online store in {local.data_dir}")
        local.start()
    keys = DeltaFeatureStore(ctx.spark).primary_keys(table)
    step(f"publishing {table} version {version} to PostgreSQL")
    snapshot = ctx.spark.sql(f"SELECT * FROM {table} VERSION AS OF {version}").toArrow()
    store = local.client()
    try:
        result = store.publish(table, keys, snapshot.schema, snapshot.to_batches(), version)
    finally:
        store.close()
    return PublishSummary(
        table=table,
        target=f"PostgreSQL {local.data_dir}",
        source_version=result.source_version,
        rows_inserted=result.rows_inserted,
        rows_updated=result.rows_updated,
        rows_deleted=result.rows_deleted,
        rows_total=result.rows_total,
        published_at=result.published_at,
        seconds=0.0,
    )


def _publish_to_lakebase(
    ctx: JobContext, params: Params, table: str, version: int, step: Callable[[str], None]
) -> PublishSummary:
    from churn_features.store.databricks_online import DatabricksOnlineStore

    step(f"publishing {table} to the Lakebase online store {params.online_store_name}")
    store = DatabricksOnlineStore(params.online_store_name)
    call, when = store.publish_table(table, version, publish_mode=params.publish_mode)
    return PublishSummary(
        table=table,
        target=f"Lakebase {params.online_store_name}: {call.target_table_name}",
        source_version=version,
        rows_inserted=None,
        rows_updated=None,
        rows_deleted=None,
        rows_total=None,
        published_at=when,
        seconds=0.0,
    )


def render(ctx: JobContext, summary: PublishSummary) -> None:
    table = Table(title="feature-publish", show_header=False, title_justify="left")
    table.add_row("feature table", f"{summary.table} (version {summary.source_version})")
    table.add_row("online store", summary.target)
    if summary.rows_total is not None:
        table.add_row(
            "rows",
            f"{summary.rows_inserted:,} inserted, {summary.rows_updated:,} updated, "
            f"{summary.rows_deleted:,} deleted; {summary.rows_total:,} online",
        )
    table.add_row("published at", summary.published_at.isoformat(timespec="seconds"))
    table.add_row("duration", f"{summary.seconds:.1f}s")
    ctx.console.print(table)
