"""model-deployment: champion vs challenger on the held-out ``churn_reference``; promote or archive.

Both models score the same reference customers (features looked up by key, never the training
rows), the configured rule decides, one MLflow run records both metric sets, the rule and the
decision, and the decision is applied only if the registry still holds the state it was made on.
On Databricks a promotion then points the environment's Model Serving endpoint
(``serving_endpoint``, set by churn-infra) at the new champion; a failure there is tagged on the
decision run and fails the task without undoing the promotion.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.progress import steps
from churn_jobs.registry_access import lookup_frame, registry
from churn_jobs.serving_endpoint import ServingEndpoint
from churn_jobs.settings import StrictModel
from churn_jobs.snapshots import table_snapshot
from churn_registry_ops import ComparisonRule


class Params(StrictModel):
    rule: ComparisonRule = Field(
        default_factory=ComparisonRule,
        description="A churn-registry-ops ComparisonRule (default: strictly better ROC AUC).",
    )
    promote_when_no_champion: bool = Field(
        default=False,
        description="With no champion yet (a fresh environment), promote the validated "
        "challenger instead of failing with NoChampion. Off by default: the first champion is "
        "a person's decision (`churn promote --version N`); the integration test turns it on.",
    )
    serving_endpoint: ServingEndpoint | None = Field(
        default=None,
        description="Databricks: the Model Serving endpoint that follows the champion (set by "
        "churn-infra from the environment's databricks.serving section). Null locally, where "
        "churn-serving follows promotions by polling the registry.",
    )


def run(ctx: JobContext, params: Params) -> Any:
    import mlflow

    from churn_features.errors import FeatureTableError
    from churn_model import load_model
    from churn_registry_ops import compare
    from churn_registry_ops.decision_log import log_decision

    rule = params.rule
    reference_table = ctx.table(ctx.runtime.tables.reference)
    with steps(ctx.console, "model-deployment") as step:
        step("reading the registry")
        reg = registry(ctx)
        # One read: the decision is made on, and applied against, exactly this state.
        state = reg.state()
        if state.champion is None and params.promote_when_no_champion:
            return _promote_first_champion(ctx, params, reg, state, step)
        # require_*() raise NoChampion (saying how to promote the first) / NoChallenger.
        champion = reg.version(state.champion) if state.champion else reg.require_champion()
        challenger = reg.version(state.challenger) if state.challenger else reg.require_challenger()

        step(f"loading champion v{champion.version} and challenger v{challenger.version}")
        models = {
            "champion": load_model(champion.uri),
            "challenger": load_model(challenger.uri),
        }

        step(f"scoring both on {reference_table}")
        spark = ctx.spark
        if not spark.catalog.tableExists(reference_table):
            raise FeatureTableError(
                f"The reference table {reference_table} does not exist.\n"
                "  fix: run the feature-table-refresh job first"
            )
        snapshot = table_snapshot(ctx)  # every table as the last completed refresh left it
        reference = snapshot.read(reference_table)
        scores, labels = {}, {}
        for role, model in models.items():
            # Each model looks its features up through its own feature spec, as scoring will.
            if model.feature_spec is None:
                raise FeatureTableError(
                    f"The {role} has no feature spec, so its features cannot be looked up.\n"
                    "  fix: retrain it with the model-train job"
                )
            frame = lookup_frame(ctx, reference, model.feature_spec, as_of=snapshot.versions)
            scores[role], labels[role] = model.predict_proba(frame), frame["churn"].to_numpy()
        decision = compare(
            scores["champion"],
            scores["challenger"],
            labels["champion"],
            rule,
            champion_threshold=models["champion"].threshold,
            challenger_threshold=models["challenger"].threshold,
        )

        step("promoting the challenger" if decision.promote else "archiving the challenger")
        ctx.use_experiment()
        with mlflow.start_run(run_name="model-deployment") as active:
            run_id = active.info.run_id
            mlflow.set_tags({"job": "model-deployment", "environment": ctx.runtime.environment})
            log_decision(ctx.mlflow, run_id, decision, state)
            try:
                after = reg.apply_decision(decision, state, decision_run_id=run_id)
            except Exception:
                # The run records the decision; this tag says it was not applied.
                mlflow.set_tag("churn_decision_applied", "false")
                raise
            mlflow.set_tag("churn_decision_applied", "true")
    render(ctx, decision, champion.version, challenger.version, run_id, after)
    if decision.promote:
        follow_endpoint(ctx, params, run_id, after.champion)
    return decision


def _promote_first_champion(
    ctx: JobContext, params: Params, reg: Any, state: Any, step: Any
) -> Any:
    """No champion to compare against: the validated challenger becomes the first champion."""
    import mlflow

    from churn_registry_ops import tags as t

    challenger = reg.version(state.challenger) if state.challenger else reg.require_challenger()
    step(f"no champion: promoting challenger v{challenger.version} (promote_when_no_champion)")
    ctx.use_experiment()
    with mlflow.start_run(run_name="model-deployment") as active:
        mlflow.set_tags(
            {
                "job": "model-deployment",
                "environment": ctx.runtime.environment,
                t.DECISION: "promote",
                t.DECISION_REASON: "first champion: no champion to compare against",
            }
        )
        after = reg.promote(
            challenger.version,
            expected_champion=None,
            expected_challenger=challenger.version,
            reason="first champion: no champion to compare against (promote_when_no_champion)",
        )
        mlflow.set_tag("churn_decision_applied", "true")
    ctx.console.print(
        f"decision: [green]PROMOTED[/] v{challenger.version} as the first champion "
        f"(promote_when_no_champion); registry now: champion v{after.champion}; "
        f"decision run {active.info.run_id}"
    )
    follow_endpoint(ctx, params, active.info.run_id, after.champion)
    return after


#: the decision run's tag saying what became of the serving endpoint after a promotion
ENDPOINT_TAG = "churn_serving_endpoint"


def follow_endpoint(ctx: JobContext, params: Params, run_id: str, champion: str | None) -> None:
    """Point the serving endpoint at the new champion; record the outcome on the decision run.

    A failure is tagged and re-raised (the task fails, so it is noticed) after the promotion,
    which stands: the next deploy or promotion brings the endpoint along.
    """
    from churn_jobs.serving_endpoint import EndpointUpdateError, follow_champion

    if params.serving_endpoint is None or champion is None:
        return
    try:
        update = follow_champion(ctx.runtime, params.serving_endpoint, champion)
    except EndpointUpdateError as exc:
        ctx.mlflow.set_tag(run_id, ENDPOINT_TAG, f"failed: {exc.problem}"[:5000])
        raise
    ctx.mlflow.set_tag(run_id, ENDPOINT_TAG, update.describe())
    ctx.console.print(update.describe())


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
