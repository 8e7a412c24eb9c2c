"""feature-table-refresh: raw data -> bronze, quarantine, churn_features, labels, reference.

Its last commit is a row in the refresh log naming every table's version; the other jobs read the
tables at those versions (``churn_jobs.snapshots``), so a refresh killed half-way is never read.
"""

from __future__ import annotations

from pydantic import Field
from rich.table import Table

from churn_features.deletion_guard import DeletionGuard
from churn_features.ingest import check_local_source
from churn_features.refresh import RefreshResult, RefreshTables, refresh_feature_tables
from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.settings import StrictModel


class Params(StrictModel):
    source: str = Field(
        default="vendored",
        description="'vendored' (the IBM file shipped in churn-features) or a CSV path/URI",
    )
    max_bad_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    max_deleted_fraction: float = Field(
        default=0.1,
        ge=0.0,
        le=1.0,
        description="refuse the refresh, writing nothing, if it would delete more than this "
        "share of the feature table's customers (1.0: no limit)",
    )
    min_rows: int = Field(
        default=1000,
        ge=0,
        description="refuse the refresh, writing nothing, if the source has fewer valid rows",
    )
    reference_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: int = 42


def run(ctx: JobContext, params: Params) -> RefreshResult:
    names = ctx.runtime.tables
    tables = RefreshTables(
        bronze=ctx.table(names.bronze),
        quarantine=ctx.table(names.quarantine),
        features=ctx.table(names.features),
        labels=ctx.table(names.labels),
        reference=ctx.table(names.reference),
        refresh_log=ctx.table(names.refresh_log),
    )
    if ctx.local is not None:  # a missing local file is answered before Spark starts
        check_local_source(params.source)
    with steps(ctx.console, "feature-table-refresh") as step:
        step("starting Spark")
        spark = ctx.spark
        result = refresh_feature_tables(
            spark,
            ctx.feature_store,
            tables,
            source=params.source,
            max_bad_fraction=params.max_bad_fraction,
            reference_fraction=params.reference_fraction,
            seed=params.seed,
            on_step=step,
            guard=DeletionGuard(params.max_deleted_fraction, params.min_rows),
        )
    render(ctx, result)
    return result


def render(ctx: JobContext, result: RefreshResult) -> None:
    report = result.report
    write = result.features_write
    summary = Table(title="feature-table-refresh", show_header=False, title_justify="left")
    summary.add_row("source", result.source)
    summary.add_row("rows read", f"{report.rows_read:,}")
    summary.add_row("rows valid", f"{report.rows_valid:,}")
    summary.add_row("rows quarantined", f"{report.rows_quarantined:,}")
    for reason, count in sorted(report.by_reason_column.items()):
        summary.add_row(f"  {reason}", f"{count:,}")
    summary.add_row("TotalCharges imputed (tenure 0)", f"{report.total_charges_imputed:,}")
    summary.add_row(
        "features merge",
        f"+{write.rows_inserted:,} inserted, {write.rows_updated:,} updated, "
        f"{write.rows_deleted:,} deleted",
    )
    summary.add_row(
        "labels / reference rows", f"{result.labels_rows:,} / {result.reference_rows:,}"
    )
    loss = result.customer_loss
    summary.add_row(
        "customers deleted", f"{loss.deleted:,} of {loss.previous:,} ({loss.fraction:.1%})"
    )
    summary.add_row("refresh id (in the refresh log)", result.refresh_id)
    for table, version in result.versions.items():
        summary.add_row(f"version {table}", str(version))
    ctx.console.print(summary)
