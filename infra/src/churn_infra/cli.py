"""``churn-infra``: deploy and launch the churn jobs, on Databricks or with the local runner.

Release tooling (changed members, tags, version bumps) is ``churn-release`` (tools/churn-release).

User mistakes (unknown environment, missing auth, dirty tree for prod, ...) print one message
and exit 2; a launched run that fails exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from churn_infra.environment import find_infra_dir, load_environment
from churn_infra.jobs import build_job, build_jobs, job_names
from churn_infra.release import predict_release
from churn_jobs.errors import UserError

app = typer.Typer(
    help="Deploy and launch the churn jobs (Databricks environments or the local runner).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

InfraDir = Annotated[
    Path | None,
    typer.Option(help="The infra/ folder (default: $CHURN_INFRA_DIR or found from the cwd)."),
]
RepoRoot = Annotated[
    Path | None, typer.Option(help="The uv workspace root to build from (default: infra/..).")
]


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except UserError as exc:
        errors.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _paths(infra_dir: Path | None, repo_root: Path | None) -> tuple[Path, Path]:
    """``infra/`` (default: $CHURN_INFRA_DIR, else found from the cwd) and its parent."""
    infra = (infra_dir or find_infra_dir()).resolve()
    return infra, (repo_root or infra.parent).resolve()


@app.command()
def deploy(
    env: Annotated[str, typer.Argument(help="Environment: local, dev, staging, prod.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and diffs; change nothing.")
    ] = False,
    out_dir: Annotated[
        Path | None, typer.Option(help="Keep the built wheels here (default: a temp dir).")
    ] = None,
    infra_dir: InfraDir = None,
    repo_root: RepoRoot = None,
) -> None:
    """Build the wheels, upload them, and create or reset every job of ENV by name."""
    from churn_infra.deploy import deploy as run_deploy

    with _user_errors():
        infra, root = _paths(infra_dir, repo_root)
        run_deploy(
            env,
            dry_run=dry_run,
            infra_dir=infra,
            repo_root=root,
            build_dir=out_dir,
            console=console,
        )


@app.command()
def launch(
    job: Annotated[str, typer.Argument(help="Job, e.g. model-train (without the ENV- prefix).")],
    env: Annotated[str, typer.Argument(help="Environment: local, dev, staging, prod.")],
    submit: Annotated[
        bool,
        typer.Option("--submit", help="One-time runs/submit of the definition; no deployed job."),
    ] = False,
    existing_cluster: Annotated[
        str | None, typer.Option(help="With --submit: run on this existing cluster id.")
    ] = None,
    poll_seconds: Annotated[float, typer.Option(help="Seconds between status polls.")] = 10.0,
    infra_dir: InfraDir = None,
    repo_root: RepoRoot = None,
) -> None:
    """Run JOB in ENV now and follow it to the end; exit 1 if it fails."""
    from churn_infra.launch import launch as run_launch

    with _user_errors():
        infra, root = _paths(infra_dir, repo_root)
        result = run_launch(
            job,
            env,
            submit=submit,
            existing_cluster=existing_cluster,
            infra_dir=infra,
            repo_root=root,
            poll_seconds=poll_seconds,
            console=console,
        )
    if not result.succeeded:
        errors.print(f"[bold red]{result.job} failed[/bold red] (run {result.run_id} {result.url})")
        raise typer.Exit(1)


@app.command()
def show(
    env: Annotated[str, typer.Argument(help="Environment: local, dev, staging, prod.")],
    job: Annotated[str | None, typer.Argument(help="One job (default: all).")] = None,
    infra_dir: InfraDir = None,
    repo_root: RepoRoot = None,
) -> None:
    """Print the job definitions of ENV as JSON (the Jobs API payloads), without building."""
    with _user_errors():
        infra, root = _paths(infra_dir, repo_root)
        environment = load_environment(env, infra)
        release = predict_release(root)
        if job is None:
            chosen = build_jobs(environment, release)
        else:
            chosen = [build_job(environment, job, release)]
        console.print_json(json.dumps([s.as_dict() for s in chosen]))


@app.command()
def bundle(
    env: Annotated[str, typer.Argument(help="A Databricks environment: dev, staging, prod.")],
    out: Annotated[
        Path, typer.Option(help="Folder to write databricks.yml and resources/ to.")
    ] = Path("bundle"),
    infra_dir: InfraDir = None,
    repo_root: RepoRoot = None,
) -> None:
    """Export ENV's jobs as a Databricks Asset Bundle (for the Databricks CLI)."""
    from churn_infra.bundle import export_bundle

    with _user_errors():
        infra, root = _paths(infra_dir, repo_root)
        written = export_bundle(env, out, infra_dir=infra, repo_root=root)
        for path in written:
            console.print(f"wrote {path}")


@app.command("environments")
def list_environments(infra_dir: InfraDir = None) -> None:
    """List the environments and validate each file."""
    from churn_infra.environment import available_environments

    with _user_errors():
        infra = (infra_dir or find_infra_dir()).resolve()
        for name in available_environments(infra):
            environment = load_environment(name, infra)
            where = (
                environment.databricks.workspace.describe() if environment.databricks else "local"
            )
            console.print(f"{name:10} {where:32} jobs: {', '.join(job_names(environment))}")


def main(argv: list[str] | None = None) -> None:
    """Console script ``churn-infra``; ``argv`` defaults to the command line."""
    from churn_jobs.cli import quiet_libraries

    quiet_libraries()
    app(args=argv)
