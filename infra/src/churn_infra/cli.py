"""``churn-infra``: deploy and launch the churn jobs, on Databricks or with the local runner;
select the members a change touches; check release tags and bump one member's version.

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


def _workspace_root(repo_root: Path | None) -> Path:
    return repo_root.resolve() if repo_root else _paths(None, None)[1]


WorkspaceRoot = Annotated[
    Path | None,
    typer.Option(help="The uv workspace root (default: the checkout holding the cwd)."),
]


@app.command("changed-packages")
def changed_packages(
    base: Annotated[str, typer.Option(help="Compare against this ref, e.g. origin/main.")],
    head: Annotated[str, typer.Option(help="The changed ref.")] = "HEAD",
    output: Annotated[
        str, typer.Option("--format", help="lines (one member a line) or json (a list).")
    ] = "lines",
    repo_root: WorkspaceRoot = None,
) -> None:
    """Members whose tests a change must run: changed members and everything depending on them."""
    from churn_infra.workspace_graph import affected_members, changed_paths, load_graph

    with _user_errors():
        if output not in ("lines", "json"):
            raise UserError(f"Unknown --format {output!r}.", "use --format lines or --format json")
        root = _workspace_root(repo_root)
        selected = affected_members(changed_paths(root, base, head), load_graph(root))
    typer.echo(json.dumps(selected) if output == "json" else "\n".join(selected))


@app.command("check-tag")
def check_tag(
    tag: Annotated[str, typer.Argument(help="A release tag, e.g. churn-model-v0.3.0.")],
    output: Annotated[
        str, typer.Option("--format", help="text, or json with what the release must test.")
    ] = "text",
    repo_root: WorkspaceRoot = None,
) -> None:
    """Check TAG is `<package>-v<X.Y.Z>` for a member whose pyproject version is X.Y.Z."""
    from churn_infra.versioning import check_tag as check
    from churn_infra.workspace_graph import load_graph

    with _user_errors():
        if output not in ("text", "json"):
            raise UserError(f"Unknown --format {output!r}.", "use --format text or --format json")
        graph = load_graph(_workspace_root(repo_root))
        member = check(tag, graph)
    if output == "json":
        described = {
            "package": member.name,
            "version": member.version,
            "path": member.path.as_posix(),
            "import_name": member.name.replace("-", "_"),
            "wheel": member.wheel_file,
            "test_members": graph.with_dependents([member.name]),
        }
        typer.echo(json.dumps(described))
    else:
        typer.echo(f"{tag}: {member.name} {member.version} ({member.path.as_posix()})")


@app.command("release")
def release_command(
    package: Annotated[str, typer.Argument(help="A workspace member, e.g. churn-model.")],
    version: Annotated[str, typer.Argument(help="The new version, X.Y.Z.")],
    lock: Annotated[
        bool, typer.Option("--lock/--no-lock", help="Refresh uv.lock with the new version.")
    ] = True,
    repo_root: WorkspaceRoot = None,
) -> None:
    """Bump PACKAGE to VERSION (nothing else), after its changelog and sibling-range checks."""
    from churn_infra.versioning import bump

    with _user_errors():
        done = bump(_workspace_root(repo_root), package, version, lock=lock)
    files = f"{done.member.path.as_posix()}/pyproject.toml"
    if done.lock_updated:
        files += " uv.lock"
    console.print(
        f"{done.member.name}: {done.old_version} -> {done.new_version} ({files})", highlight=False
    )
    console.print("next: commit, open a pull request, and once it is merged tag the merge commit:")
    typer.echo(f"  {done.tag_command}")


@app.command("release-notes")
def release_notes(
    package: Annotated[str, typer.Argument(help="A workspace member, e.g. churn-model.")],
    version: Annotated[str, typer.Argument(help="The version whose changelog entry to print.")],
    repo_root: WorkspaceRoot = None,
) -> None:
    """Print PACKAGE's CHANGELOG.md entry for VERSION (the GitHub release notes)."""
    from churn_infra.versioning import release_notes as notes

    with _user_errors():
        text = notes(_workspace_root(repo_root), package, version)
    typer.echo(text)


@app.command("smoke-wheel")
def smoke_wheel(
    package: Annotated[str, typer.Argument(help="The member whose wheel to install.")],
    wheels: Annotated[
        Path, typer.Option(help="Built wheels: the member's and its siblings' (`uv build`).")
    ],
    venv: Annotated[Path, typer.Option(help="The fresh venv to create (outside the checkout).")],
    locked: Annotated[
        bool,
        typer.Option(
            "--locked/--latest",
            help="Third-party versions from uv.lock, or the newest the ranges allow.",
        ),
    ] = True,
    python: Annotated[str | None, typer.Option(help="Interpreter for the venv.")] = None,
    repo_root: WorkspaceRoot = None,
) -> None:
    """Install PACKAGE's wheel in a fresh venv, siblings at their lowest allowed versions, and
    import every module of it."""
    from churn_infra.wheel_smoke import lock_constraints, smoke_install

    with _user_errors():
        constraints = None
        if locked:
            venv.parent.mkdir(parents=True, exist_ok=True)
            target = venv.parent / f"{venv.name}-constraints.txt"
            constraints = lock_constraints(_workspace_root(repo_root), target.resolve())
        result = smoke_install(
            package, wheels.resolve(), venv.resolve(), constraints=constraints, python=python
        )
    siblings = ", ".join(f"{n}=={v}" for n, v in result.sibling_pins.items()) or "no siblings"
    console.print(f"{result.member} {result.version} with {siblings}: {result.output}")


def main(argv: list[str] | None = None) -> None:
    """Console script ``churn-infra``; ``argv`` defaults to the command line."""
    from churn_jobs.cli import quiet_libraries

    quiet_libraries()
    app(args=argv)
