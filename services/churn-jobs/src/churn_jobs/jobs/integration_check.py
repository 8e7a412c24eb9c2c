"""integration-check: the last task of the integration-test job; fails unless the chain's outputs
are there: feature rows, a validated champion, predictions from that champion."""

from __future__ import annotations

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError
from churn_jobs.registry_access import registry
from churn_jobs.settings import StrictModel


class Params(StrictModel):
    min_feature_rows: int = Field(default=1000, ge=1)
    min_prediction_rows: int = Field(default=100, ge=1)
    require_champion: bool = True
    require_monitoring: bool = Field(
        default=False,
        description="Also require monitor rows of the champion in <predictions>_profile_metrics "
        "(the integration-test job runs model-monitoring before this check).",
    )


def run(ctx: JobContext, params: Params) -> dict[str, str]:
    from pyspark.sql import functions as F

    spark = ctx.spark
    tables = ctx.runtime.tables
    results: dict[str, tuple[bool, str]] = {}

    def count(short: str) -> int:
        name = ctx.table(short)
        return spark.table(name).count() if spark.catalog.tableExists(name) else 0

    features = count(tables.features)
    results["feature rows"] = (features >= params.min_feature_rows, f"{features:,}")
    champion = registry(ctx).champion()
    if params.require_champion:
        ok = champion is not None and champion.validation == "passed"
        results["validated champion"] = (ok, f"v{champion.version}" if champion else "none")
    predictions = ctx.table(tables.predictions)
    if spark.catalog.tableExists(predictions):
        rows = spark.table(predictions)
        latest = rows.where(F.col("scored_at") == rows.agg(F.max("scored_at")).collect()[0][0])
        n = latest.count()
        versions = {r[0] for r in latest.select("model_version").distinct().collect()}
        results["prediction rows (latest run)"] = (n >= params.min_prediction_rows, f"{n:,}")
        if champion is not None:
            results["predictions by the champion"] = (
                versions == {str(champion.version)},
                ", ".join(sorted(versions)),
            )
    else:
        results["prediction rows (latest run)"] = (False, "no predictions table")
    if params.require_monitoring:
        from churn_monitoring.tables import profile_table_name

        profile = profile_table_name(predictions)
        monitored = 0
        if spark.catalog.tableExists(profile) and champion is not None:
            mine = spark.table(profile).where(F.col("model_version") == str(champion.version))
            monitored = mine.count()
        results["monitor rows of the champion"] = (monitored > 0, f"{monitored:,} in {profile}")

    table = Table(title="integration-check", title_justify="left")
    for column in ("check", "result", "value"):
        table.add_column(column)
    for name, (ok, value) in results.items():
        table.add_row(name, "[green]ok[/]" if ok else "[red]failed[/]", value)
    ctx.console.print(table)
    failed = [name for name, (ok, _) in results.items() if not ok]
    if failed:
        raise UserError(
            f"Integration check failed: {', '.join(failed)}.",
            "look at the failed task's output above; the chain did not produce what it should",
        )
    return {name: value for name, (_, value) in results.items()}
