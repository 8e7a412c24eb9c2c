"""The ``churn`` CLI: run jobs on an environment, inspect and change the registry, run the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from churn_jobs.runner import JOBS, exit_on_user_error, run_job

app = typer.Typer(
    help="Churn MLOps: features, training, validation, deployment and batch scoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()

EnvOption = Annotated[
    str, typer.Option("--env", "-e", help="Environment under infra/environments/.")
]


@app.command("run")
def run_command(
    job: Annotated[str, typer.Argument(help=f"One of: {', '.join(JOBS)}.")],
    env: EnvOption = "local",
    params: Annotated[
        Path | None,
        typer.Option(help="Task parameters file (default: infra/params/[<env>/]<job>.yaml)."),
    ] = None,
) -> None:
    """Run one job on an environment (locally: Spark + Delta + MLflow under CHURN_HOME)."""
    from churn_jobs.request import request_from_files

    with exit_on_user_error():
        request = request_from_files(job, env, params)
        run_job(job, request, console=console)


@app.command("models")
def models_command(env: EnvOption = "local") -> None:
    """The registered model's versions: role, validation, decision and key metrics."""
    from churn_jobs.registry_cli import show_models

    with exit_on_user_error():
        show_models(env, console)


@app.command("monitor")
def monitor_command(env: EnvOption = "local") -> None:
    """The latest monitoring status (drift, last retrain trigger) per model version."""
    from churn_jobs.monitor_cli import show_monitoring

    with exit_on_user_error():
        show_monitoring(env, console)


@app.command("promote")
def promote_command(
    version: Annotated[
        int, typer.Option("--version", "-v", min=1, help="Version to make champion.")
    ],
    env: EnvOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Make a validated version the champion by hand (the seed's first promotion)."""
    from churn_jobs.registry_cli import promote

    with exit_on_user_error():
        promote(env, version, console, assume_yes=yes)


@app.command("rollback")
def rollback_command(
    env: EnvOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Bring the previous champion back; the current one is archived."""
    from churn_jobs.registry_cli import rollback

    with exit_on_user_error():
        rollback(env, console, assume_yes=yes)


@app.command("repair")
def repair_command(
    env: EnvOption = "local",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Complete a registry change a crash left half-applied (`churn models` shows it)."""
    from churn_jobs.registry_cli import repair

    with exit_on_user_error():
        repair(env, console, assume_yes=yes)


@app.command("demo")
def demo_command(
    env: EnvOption = "local",
    reset: Annotated[bool, typer.Option(help="Start from an empty CHURN_HOME.")] = False,
) -> None:
    """Replay the whole workflow: first model, a code change, champion/challenger, scoring."""
    from churn_jobs.demo import run_demo

    with exit_on_user_error():
        run_demo(env, console, reset=reset)


@app.command("ui")
def ui_command() -> None:
    """Print the command that opens the MLflow UI on the local store."""
    from churn_jobs.local_platform import LocalPlatform, churn_home

    platform = LocalPlatform(churn_home())
    console.print(
        f"uv run mlflow ui --backend-store-uri {platform.tracking_uri} --host 127.0.0.1 --port 5000"
    )


def quiet_libraries() -> None:
    """A person reads this output: keep MLflow's start-up chatter and known warnings out of it."""
    import logging
    import os
    import warnings

    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # churn-model leaves predict() without type hints on purpose: MLflow would otherwise derive
    # a schema from them and override the model's explicit signature.
    warnings.filterwarnings("ignore", message=".*Add type hints to the `predict` method.*")
    warnings.filterwarnings("ignore", category=FutureWarning, module="mlflow")


def main() -> None:
    quiet_libraries()
    app()
