"""model-inference-batch: the champion scores every key of the keys table; predictions to Delta."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Literal

from pydantic import AwareDatetime, Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.registry_access import registry
from churn_jobs.settings import StrictModel


class Params(StrictModel):
    keys_table: str = Field(
        default="churn_features",
        description="Table of customers to score (short name in the environment's schema, or "
        "a qualified name); it must have a customer_id column.",
    )
    columns: list[str] = Field(
        default_factory=lambda: ["customer_id"],
        description="Columns of the keys table to keep (key + passthrough); features are "
        "looked up by key, and feature columns kept here win over the lookup.",
    )
    write_mode: Literal["append", "overwrite"] = "append"
    run_id: str | None = Field(default=None, description="None: a new id per run")
    scored_at: AwareDatetime | None = Field(
        default=None,
        description="The scoring time recorded on every row (and so its scoring_date, the "
        "monitoring window): None is now; set it to replay or backfill a past day's run.",
    )


@dataclass(frozen=True)
class InferenceSummary:
    run_id: str
    model_name: str
    model_version: str
    predictions_table: str
    table_version: int
    rows_written: int
    rows_without_features: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds else 0.0


def run(ctx: JobContext, params: Params) -> InferenceSummary:
    import mlflow

    from churn_scoring.predictions import write_predictions
    from churn_scoring.score import score_table

    keys_table = params.keys_table if "." in params.keys_table else ctx.table(params.keys_table)
    predictions_table = ctx.table(ctx.runtime.tables.predictions)
    run_id = params.run_id or uuid.uuid4().hex
    started = time.perf_counter()
    with steps(ctx.console, "model-inference-batch") as step:
        step("finding the champion")
        champion = registry(ctx).require_champion()
        model = f"{champion.name} v{champion.version}"
        step(f"scoring {keys_table} with {model} into {predictions_table}")
        scored = score_table(
            ctx.spark, champion.uri, keys_table, ctx.feature_store, columns=params.columns
        )
        written = write_predictions(
            scored,
            predictions_table,
            run_id=run_id,
            mode=params.write_mode,
            scored_at=params.scored_at,
        )
    summary = InferenceSummary(
        run_id=run_id,
        model_name=champion.name,
        model_version=str(champion.version),
        predictions_table=predictions_table,
        table_version=written.version,
        rows_written=written.rows_written,
        rows_without_features=written.rows_without_features,
        seconds=time.perf_counter() - started,
    )
    ctx.use_experiment()
    with mlflow.start_run(run_name="model-inference-batch"):
        mlflow.set_tags(
            {
                "job": "model-inference-batch",
                "environment": ctx.runtime.environment,
                "scoring_run_id": run_id,
                "model_version": summary.model_version,
                "predictions_table": predictions_table,
            }
        )
        mlflow.log_metrics(
            {
                "rows_written": summary.rows_written,
                "rows_without_features": summary.rows_without_features,
                "seconds": summary.seconds,
                "rows_per_second": summary.rows_per_second,
            }
        )
    render(ctx, summary)
    return summary


def render(ctx: JobContext, summary: InferenceSummary) -> None:
    table = Table(title="model-inference-batch", show_header=False, title_justify="left")
    table.add_row("model", f"{summary.model_name} v{summary.model_version}")
    table.add_row("scoring run id", summary.run_id)
    table.add_row(
        "predictions table", f"{summary.predictions_table} (version {summary.table_version})"
    )
    table.add_row("rows written", f"{summary.rows_written:,}")
    style = "red" if summary.rows_without_features else "green"
    table.add_row("rows without features", f"[{style}]{summary.rows_without_features:,}[/]")
    table.add_row("duration", f"{summary.seconds:.1f}s ({summary.rows_per_second:,.0f} rows/s)")
    ctx.console.print(table)
