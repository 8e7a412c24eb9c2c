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
    timings: Annotated[
        Path | None,
        typer.Option(help="Also write the seconds of every act and job step here (JSON)."),
    ] = None,
) -> None:
    """Replay the whole workflow: first model, a code change, champion/challenger, scoring."""
    from churn_jobs.demo import run_demo

    with exit_on_user_error():
        run_demo(env, console, reset=reset, timings=timings)


store_app = typer.Typer(
    help="The local online feature store (PostgreSQL under CHURN_HOME/online-store).",
    no_args_is_help=True,
)
app.add_typer(store_app, name="store")


@store_app.command("start")
def store_start_command() -> None:
    """Start the local online store (it keeps running until `churn store stop`)."""
    from churn_jobs.local_platform import churn_home
    from churn_jobs.online_store import LocalOnlineStore

    with exit_on_user_error():
        status = LocalOnlineStore(churn_home()).start()
        console.print(f"online store running (pid {status.pid}): {status.uri}")


@store_app.command("stop")
def store_stop_command() -> None:
    """Stop the local online store (its data stays for the next start)."""
    from churn_jobs.local_platform import churn_home
    from churn_jobs.online_store import LocalOnlineStore

    with exit_on_user_error():
        store = LocalOnlineStore(churn_home())
        stopped = store.stop()
        console.print("online store stopped" if stopped else "online store was not running")


@store_app.command("status")
def store_status_command() -> None:
    """Whether the local online store runs, and which feature-table version it holds."""
    from churn_jobs.local_platform import churn_home
    from churn_jobs.online_store import LocalOnlineStore, describe_status

    with exit_on_user_error():
        console.print(describe_status(LocalOnlineStore(churn_home())))


@app.command("serve")
def serve_command(
    env: EnvOption = "local",
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8000,
    poll_seconds: Annotated[
        float, typer.Option(help="How often to check the registry for a new champion.")
    ] = 5.0,
) -> None:
    """Serve the champion online (starts the online store and publishes to it if needed)."""
    from churn_jobs.local_platform import churn_home
    from churn_jobs.serve import serve_local

    with exit_on_user_error():
        serve_local(env, churn_home(), console, port=port, poll_seconds=poll_seconds)


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
