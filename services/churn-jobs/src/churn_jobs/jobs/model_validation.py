"""model-validation: sanity-check the newest unchecked version (or a given one), make it challenger.

Runs as the task after model-train (Unity Catalog has no registry webhooks). A failing version is
tagged with the reasons and the task fails with them; it never becomes challenger.
"""

from __future__ import annotations

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.registry_access import expected_contract, registry
from churn_jobs.settings import StrictModel
from churn_jobs.snapshots import table_snapshot


class Params(StrictModel):
    version: int | None = Field(default=None, description="None: the newest unchecked version")
    sample_rows: int = Field(default=500, ge=10, description="real feature rows to predict on")
    check_requirements: bool = True
    seed: int = 0


def run(ctx: JobContext, params: Params) -> object:
    from pyspark.sql import functions as F

    from churn_model import load_feature_spec
    from churn_registry_ops import SanityCheckFailed
    from churn_registry_ops.validation import validate_version

    with steps(ctx.console, "model-validation") as step:
        step("reading the registry")
        reg = registry(ctx)
        if params.version is not None:
            candidate = reg.version(params.version)
        else:
            found = reg.newest_unchecked()
            if found is None:
                step("nothing to do")
                ctx.console.print(
                    f"No unchecked version of {reg.model_name}: every version is already validated."
                )
                return None
            candidate = found
        step(f"sampling real feature rows for version {candidate.version}")
        spec = load_feature_spec(candidate.uri)
        features = table_snapshot(ctx).read(spec.lookups[0].table_name)
        names = list(spec.feature_names)
        contract = expected_contract(features, names)
        sample = (
            features.orderBy(F.rand(params.seed))
            .limit(params.sample_rows)
            .toPandas()[list(contract)]
        )
        step(f"checking version {candidate.version}")
        try:
            report = validate_version(
                reg,
                candidate.version,
                contract,
                sample,
                check_requirements=params.check_requirements,
            )
        except SanityCheckFailed as failed:
            _render(ctx, reg.model_name, candidate.version, failed.report, passed=False)
            raise
    _render(ctx, reg.model_name, candidate.version, report, passed=True)
    return report


def _render(ctx: JobContext, name: str, version: str, report: object, passed: bool) -> None:
    table = Table(
        title=f"model-validation: {name} v{version} "
        + ("[green]passed → challenger[/]" if passed else "[red]failed[/]"),
        title_justify="left",
    )
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for check in getattr(report, "checks", []):
        table.add_row(
            check.name, "[green]ok[/]" if check.passed else "[red]failed[/]", check.detail
        )
    ctx.console.print(table)
