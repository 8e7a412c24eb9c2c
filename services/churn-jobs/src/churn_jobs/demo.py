"""`churn demo`: the seed's whole workflow, replayed on a local environment from a clean store.

1. initial-model-train-register (refresh -> train RF depth 4 -> validation), then the manual
   step: promote version 1 to champion;
2. the "code change": max_depth 4 -> 8 (a second params file, shown as a diff);
3. model-train -> version 2, model-validation -> challenger;
4. model-deployment: champion vs challenger on the reference set -> promote v2, archive v1;
5. model-inference-batch: predictions for every customer of the keys table;
6. three months in production (``demo_drift``): new customers arrive, the third month drifts,
   model-monitoring names the drifting features, retrains, and the deployment decides;
7. a summary: registry state, tables, per-act timings, and the command that opens the MLflow UI.
"""

from __future__ import annotations

import difflib
import json
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.demo_drift import run_drift_act
from churn_jobs.environments import params_file
from churn_jobs.errors import UserError
from churn_jobs.local_platform import HOME_MARKER, LocalPlatform, churn_home
from churn_jobs.preload import import_in_background
from churn_jobs.progress import recorded_steps
from churn_jobs.registry_access import registry
from churn_jobs.registry_cli import existing_versions
from churn_jobs.request import request_from_files
from churn_jobs.runner import job_module, run_job

BASELINE_PARAMS = "model-train"
CODE_CHANGE_PARAMS = "model-train-depth8"


def reset_home(home: Path) -> None:
    """Delete CHURN_HOME, but only a folder churn created (it holds the HOME_MARKER file), and
    never the user's home folder or one of its parents: never delete a folder the user pointed
    at by mistake."""
    home = home.expanduser().resolve()
    if not home.exists() or (home.is_dir() and not any(home.iterdir())):
        return
    user_home = Path.home().resolve()
    if home == user_home or home in user_home.parents:
        raise UserError(
            f"CHURN_HOME is {home}, your home folder or one of its parents; refusing to delete it.",
            "point CHURN_HOME at a folder of its own (default: ./.churn)",
        )
    if not (home / HOME_MARKER).is_file():
        raise UserError(
            f"{home} is not a churn home (churn writes {HOME_MARKER} into the folders it "
            "creates); refusing to delete it.",
            "point CHURN_HOME at a folder churn created (default: ./.churn), or delete this one "
            "yourself if it really holds only an old churn store",
        )
    shutil.rmtree(home)


def run_demo(env: str, console: Console, reset: bool = False, timings: Path | None = None) -> None:
    """``timings``: also write the seconds of every act and every job step there (JSON)."""
    home = churn_home()
    baseline_params = params_file(BASELINE_PARAMS, env)
    code_change_params = params_file(CODE_CHANGE_PARAMS, env)
    baseline = request_from_files("model-train", env, baseline_params)
    if baseline.runtime.platform != "local":
        raise UserError(
            f"The demo runs on a local-platform environment; {env!r} is on "
            f"{baseline.runtime.platform}.",
            f"run the jobs there with `nox -s launch -- <job> {env}`",
        )
    if reset:
        reset_home(home)
    ctx = JobContext(runtime=baseline.runtime, console=console, home=home)
    if LocalPlatform(home).mlflow_db.exists() and existing_versions(registry(ctx)):
        raise UserError(
            f"{home} already holds versions of {baseline.runtime.registered_model_name}.",
            "rerun with `churn demo --reset` to start from scratch",
        )
    acts = ActTimer(console)

    def job(name: str, params: Path | None = None) -> object:
        return run_job(name, request_from_files(name, env, params), console, home)

    acts.start("1. initial-model-train-register: refresh → train (RF depth 4) → validate")
    # the refresh's Spark work leaves this process's Python idle: import model-train's meanwhile
    import_in_background(job_module("model-train").PRELOAD)
    job("feature-table-refresh")
    first = job("model-train", baseline_params)
    job("model-validation")
    version = first.version  # type: ignore[attr-defined]
    console.print(f"[bold]manual step:[/] promote version {version} (`churn promote -v {version}`)")
    reg = registry(ctx)
    reg.promote_version(version, expected_champion=reg.state().champion)

    acts.start("2. the code change: max_depth 4 → 8")
    console.print(_diff(baseline_params, code_change_params))

    acts.start("3. model-train → version 2; model-validation → challenger")
    job("model-train", code_change_params)
    job("model-validation")

    acts.start("4. model-deployment: champion vs challenger on churn_reference")
    job("model-deployment")

    acts.start("5. model-inference-batch: the champion scores every customer")
    job("model-inference-batch")

    acts.start("6. three months in production: monitoring catches the drift and retrains")
    run_drift_act(
        ctx,
        env,
        lambda name, request: run_job(name, request, console, home),
        code_change_params,
    )

    acts.start("7. where things are")
    _summary(ctx, acts)
    acts.stop()
    if timings is not None:
        write_timings(timings, acts)


def write_timings(path: Path, acts: ActTimer) -> None:
    """The demo's per-act and per-step seconds as JSON (``nox -s bench`` keeps them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "total_seconds": round(acts.total, 3),
        "acts": [{"act": t, "seconds": round(s, 3)} for t, s in acts.seconds.items()],
        "steps": [asdict(s) for s in recorded_steps()],
    }
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


class ActTimer:
    """Seconds per act of the demo (printed at the end: where the time goes)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self._current: tuple[str, float] | None = None

    def start(self, title: str) -> None:
        self.stop()
        self.console.rule(f"[bold]{title}")
        self._current = (title, time.perf_counter())

    def stop(self) -> None:
        if self._current is not None:
            title, since = self._current
            self.seconds[title] = time.perf_counter() - since
            self._current = None

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


def _diff(before: Path, after: Path) -> Syntax:
    lines = difflib.unified_diff(
        before.read_text().splitlines(),
        after.read_text().splitlines(),
        fromfile=f"infra/params/{before.name}",
        tofile=f"infra/params/{after.name}",
        lineterm="",
        n=1,
    )
    return Syntax("\n".join(lines), "diff", theme="ansi_dark")


def _summary(ctx: JobContext, acts: ActTimer) -> None:
    console = ctx.console
    reg = registry(ctx)
    versions = Table(title=f"registry: {reg.model_name} ({reg.mode})", title_justify="left")
    for column in ("version", "role", "validation", "decision", "test ROC AUC"):
        versions.add_column(column)
    for v in reg.versions():
        auc = v.metrics.get("test_roc_auc")
        versions.add_row(
            str(v.version),
            v.role,
            v.validation or "-",
            v.decision or "-",
            f"{auc:.4f}" if auc is not None else "-",
        )
    console.print(versions)

    spark = ctx.spark
    tables = Table(title=f"tables in {ctx.runtime.database}", title_justify="left")
    for column in ("table", "rows", "Delta version"):
        tables.add_column(column)
    from churn_features.tables import table_version

    names = ctx.runtime.tables
    for short in (
        names.bronze,
        names.quarantine,
        names.features,
        names.labels,
        names.reference,
        names.predictions,
        f"{names.predictions}_profile_metrics",
        f"{names.predictions}_drift_metrics",
        f"{names.predictions}_monitor_baseline",
    ):
        full = ctx.table(short)
        if spark.catalog.tableExists(full):
            tables.add_row(full, f"{spark.table(full).count():,}", str(table_version(spark, full)))
    console.print(tables)
    local = LocalPlatform(ctx.home)
    console.print(
        Panel.fit(
            f"store: {ctx.home}\n"
            f"  warehouse: {local.warehouse_dir}\n"
            f"  MLflow:    {local.tracking_uri}\n"
            f"open the MLflow UI:\n"
            f"  uv run mlflow ui --backend-store-uri {local.tracking_uri} --port 5000\n"
            f"demo finished in {acts.total:.0f}s",
            title="churn demo",
        )
    )
    timings = Table(title="seconds per act", title_justify="left", show_header=False)
    for title, seconds in acts.seconds.items():
        timings.add_row(title, f"{seconds:.1f}")
    console.print(timings)
