"""model-deployment: champion vs challenger on the held-out ``churn_reference``; promote or archive.

Both models score the same reference customers (features looked up by key, never the training
rows), the configured rule decides, one MLflow run records both metric sets, the rule and the
decision, and the decision is applied only if the registry still holds the state it was made on.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.registry_access import registry, score_frame
from churn_jobs.settings import StrictModel


class Params(StrictModel):
    rule: dict[str, Any] = Field(
        default_factory=dict,
        description="A churn-registry-ops ComparisonRule (default: strictly better ROC AUC).",
    )

    @field_validator("rule")
    @classmethod
    def _valid_rule(cls, value: dict[str, Any]) -> dict[str, Any]:
        from churn_registry_ops import ComparisonRule

        ComparisonRule.model_validate(value)
        return value


def run(ctx: JobContext, params: Params) -> Any:
    import mlflow

    from churn_features.errors import FeatureTableError
    from churn_model import load_pipeline
    from churn_registry_ops import ComparisonRule, compare
    from churn_registry_ops.decision_log import log_decision

    rule = ComparisonRule.model_validate(params.rule)
    reference_table = ctx.table(ctx.runtime.tables.reference)
    with steps(ctx.console, "model-deployment") as step:
        step("reading the registry")
        reg = registry(ctx)
        state = reg.state()
        champion = reg.require_champion()
        challenger = reg.require_challenger()

        step(f"loading champion v{champion.version} and challenger v{challenger.version}")
        champion_model = load_pipeline(champion.uri)
        challenger_model = load_pipeline(challenger.uri)

        step(f"scoring both on {reference_table}")
        spark = ctx.spark
        if not spark.catalog.tableExists(reference_table):
            raise FeatureTableError(
                f"The reference table {reference_table} does not exist.\n"
                "  fix: run the feature-table-refresh job first"
            )
        names = sorted(set(champion_model.feature_names) | set(challenger_model.feature_names))
        frame = score_frame(ctx, spark.table(reference_table), names, label="churn")
        decision = compare(
            champion_model.predict_proba(frame),
            challenger_model.predict_proba(frame),
            frame["churn"].to_numpy(),
            rule,
            champion_threshold=champion_model.threshold,
            challenger_threshold=challenger_model.threshold,
        )

        step("logging the decision to MLflow")
        ctx.use_experiment()
        with mlflow.start_run(run_name="model-deployment") as active:
            mlflow.set_tags({"job": "model-deployment", "environment": ctx.runtime.environment})
            log_decision(ctx.mlflow, active.info.run_id, decision, state)
            run_id = active.info.run_id

        step("promoting the challenger" if decision.promote else "archiving the challenger")
        after = reg.apply_decision(decision, state, decision_run_id=run_id)
    render(ctx, decision, champion.version, challenger.version, run_id, after)
    return decision


def render(
    ctx: JobContext, decision: Any, champion: str, challenger: str, run_id: str, after: Any
) -> None:
    table = Table(
        title=f"model-deployment on {decision.n_rows:,} reference customers", title_justify="left"
    )
    table.add_column("metric")
    table.add_column(f"champion v{champion}", justify="right")
    table.add_column(f"challenger v{challenger}", justify="right")
    for name, value in decision.champion_metrics.items():
        marker = " ◀ rule" if name == decision.rule.metric else ""
        table.add_row(name + marker, f"{value:.4f}", f"{decision.challenger_metrics[name]:.4f}")
    ctx.console.print(table)
    rule = decision.rule
    ctx.console.print(
        f"rule: {rule.metric} {'higher' if rule.higher_is_better else 'lower'} is better, "
        f"min improvement {rule.min_improvement} ({rule.improvement})"
        + (f", guard rails {rule.guard_rails}" if rule.guard_rails else "")
        + (", bootstrap CI" if rule.bootstrap else "")
    )
    verdict = "[green]PROMOTED[/]" if decision.promote else "[yellow]REJECTED[/]"
    ctx.console.print(f"decision: {verdict} — {'; '.join(decision.reasons)}")
    ctx.console.print(
        f"registry now: champion v{after.champion}, challenger "
        f"{('v' + str(after.challenger)) if after.challenger else 'none'}; decision run {run_id}"
    )
