"""model-validation: sanity-check the newest unchecked version (or a given one), make it challenger.

Runs as the task after model-train (Unity Catalog has no registry webhooks). Nothing from the
version runs: its files must be exactly what churn-model writes (else it is refused, tagged with
the reason), and it is scored through churn-model's skops loader on a labelled sample of the
held-out reference customers (features looked up through its spec): predictions must vary and
reach the ROC AUC floor. A failing version is tagged with the reasons and the task fails with
them; it never becomes challenger.
"""

from __future__ import annotations

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.registry_access import expected_contract, lookup_frame, registry
from churn_jobs.settings import StrictModel
from churn_jobs.snapshots import table_snapshot


class Params(StrictModel):
    version: int | None = Field(default=None, description="None: the newest unchecked version")
    sample_rows: int = Field(default=500, ge=10, description="labelled reference rows to score")
    min_roc_auc: float = Field(
        default=0.6, ge=0.0, le=1.0, description="ROC AUC floor on the labelled sample"
    )
    check_requirements: bool = True
    seed: int = 0


def run(ctx: JobContext, params: Params) -> object:
    from pyspark.sql import functions as F

    from churn_features.errors import FeatureTableError
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
        step(f"sampling labelled reference customers for version {candidate.version}")
        spec = load_feature_spec(candidate.uri)
        features = table_snapshot(ctx).read(spec.lookups[0].table_name)
        names = list(spec.feature_names)
        contract = expected_contract(features, names)
        reference_table = ctx.table(ctx.runtime.tables.reference)
        if not ctx.spark.catalog.tableExists(reference_table):
            raise FeatureTableError(
                f"The reference table {reference_table} does not exist.\n"
                "  fix: run the feature-table-refresh job first"
            )
        keys = (
            ctx.spark.table(reference_table).orderBy(F.rand(params.seed)).limit(params.sample_rows)
        )
        frame = lookup_frame(ctx, keys, spec)
        sample, labels = frame[list(contract)], frame[spec.label].to_numpy()
        step(f"checking version {candidate.version}")
        try:
            report = validate_version(
                reg,
                candidate.version,
                contract,
                sample,
                labels=labels,
                min_roc_auc=params.min_roc_auc,
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
