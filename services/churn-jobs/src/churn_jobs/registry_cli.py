"""`churn models`, `churn promote`, `churn rollback`, `churn repair`: the registry by hand, with
confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.prompt import Confirm
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.environments import load_runtime_settings
from churn_jobs.errors import UserError
from churn_jobs.registry_access import registry

if TYPE_CHECKING:
    from churn_registry_ops import ModelRegistry, ModelVersionInfo

KEY_METRICS = {"test_roc_auc": "ROC AUC", "test_pr_auc": "PR AUC", "test_log_loss": "log loss"}


def _context(env: str, console: Console) -> JobContext:
    return JobContext(runtime=load_runtime_settings(env), console=console)


def show_models(env: str, console: Console) -> None:
    ctx = _context(env, console)
    reg = registry(ctx)
    versions = existing_versions(reg)
    table = Table(
        title=f"{reg.model_name} ({ctx.runtime.environment}, {reg.mode})", title_justify="left"
    )
    for column in ("v", "role", "validation", "decision", *KEY_METRICS.values()):
        table.add_column(column, no_wrap=True)
    for v in versions:
        role = v.role + (" ↺" if v.is_previous_champion else "")
        table.add_row(
            str(v.version),
            role,
            v.validation or "-",
            v.decision or "-",
            *[f"{v.metrics[m]:.4f}" if m in v.metrics else "-" for m in KEY_METRICS],
        )
    if not versions:
        console.print(f"No versions of {reg.model_name} yet: run `churn run model-train`.")
        return
    console.print(table)
    for problem in reg.problems():
        console.print(f"[red]problem:[/] {problem}. Fix: `churn repair --env {env}`")


def existing_versions(reg: ModelRegistry) -> list[ModelVersionInfo]:
    """The model's versions; none (not an error) when it was never registered."""
    from churn_registry_ops import ModelNotFound

    try:
        return reg.versions()
    except ModelNotFound:
        return []


def _confirm(ctx: JobContext, question: str, assume_yes: bool) -> None:
    if assume_yes or ctx.runtime.platform == "local":
        return
    if not Confirm.ask(f"[{ctx.runtime.environment}] {question}", console=ctx.console):
        raise UserError("Cancelled; nothing changed.")


def promote(env: str, version: int, console: Console, assume_yes: bool = False) -> None:
    ctx = _context(env, console)
    reg = registry(ctx)
    state = reg.state()
    _confirm(ctx, f"Make version {version} the champion (now: {state.champion})?", assume_yes)
    after = reg.promote_version(version, expected_champion=state.champion)
    console.print(f"champion: v{after.champion} (previous: {after.previous_champion or 'none'})")
    follow_endpoint(ctx, env, after.champion)


def rollback(env: str, console: Console, assume_yes: bool = False) -> None:
    ctx = _context(env, console)
    reg = registry(ctx)
    state = reg.state()
    _confirm(ctx, f"Replace champion v{state.champion} by v{state.previous_champion}?", assume_yes)
    after = reg.rollback(expected_champion=state.champion)
    console.print(f"champion: v{after.champion} (rolled back from v{state.champion})")
    follow_endpoint(ctx, env, after.champion)


def follow_endpoint(ctx: JobContext, env: str, champion: str | None) -> None:
    """On Databricks: the environment's serving endpoint (model-deployment's ``serving_endpoint``
    parameter) serves the new champion. A failure exits 2 naming it; the registry change stands."""
    from churn_jobs.environments import request_for
    from churn_jobs.serving_endpoint import ServingEndpoint, follow_champion

    declared = request_for("model-deployment", env).params.get("serving_endpoint")
    if not declared or champion is None:
        return
    endpoint = ServingEndpoint.model_validate(declared)
    ctx.console.print(follow_champion(ctx.runtime, endpoint, champion).describe())


def repair(env: str, console: Console, assume_yes: bool = False) -> None:
    ctx = _context(env, console)
    reg = registry(ctx)
    problems = reg.problems()
    if not problems:
        console.print(f"{reg.model_name}: nothing to repair.")
        return
    _confirm(ctx, "Repair: " + "; ".join(problems) + "?", assume_yes)
    for done in reg.repair():
        console.print(f"repaired: {done}")
    after = reg.state()
    console.print(
        f"champion: v{after.champion}, challenger: "
        f"{('v' + after.challenger) if after.challenger else 'none'}"
    )
