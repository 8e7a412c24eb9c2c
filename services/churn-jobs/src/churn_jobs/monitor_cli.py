"""`churn monitor`: the latest monitoring status of every model version, from its tags."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.environments import load_runtime_settings
from churn_jobs.jobs.model_monitoring import (
    TAG_DRIFTING,
    TAG_LAST_FIRED,
    TAG_LAST_WINDOW,
    TAG_RUN,
    TAG_STATUS,
)
from churn_jobs.registry_access import registry
from churn_jobs.registry_cli import existing_versions


def show_monitoring(env: str, console: Console) -> None:
    ctx = JobContext(runtime=load_runtime_settings(env), console=console)
    reg = registry(ctx)
    versions = existing_versions(reg)
    if not versions:
        console.print(f"No versions of {reg.model_name} yet: run `churn run model-train`.")
        return
    table = Table(title=f"{reg.model_name} monitoring ({ctx.runtime.environment})")
    for column in ("v", "role", "status", "last window", "drifting", "last retrain trigger", "run"):
        table.add_column(column)
    colours = {"ok": "green", "drift": "red"}
    for v in versions:
        status = v.tags.get(TAG_STATUS)
        table.add_row(
            str(v.version),
            v.role,
            f"[{colours.get(status or '', 'yellow')}]{status}[/]" if status else "not monitored",
            v.tags.get(TAG_LAST_WINDOW, "-")[:10],
            v.tags.get(TAG_DRIFTING, "-"),
            v.tags.get(TAG_LAST_FIRED, "-")[:10],
            v.tags.get(TAG_RUN, "-"),
        )
    console.print(table)
