"""``churn-release``: select the members a change touches, check release tags, bump one member's
version, print its release notes, and smoke-install its wheel outside the workspace.

Dev-only (CI and maintainers): it imports no workspace member. A mistake prints one message and
exits 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from churn_release.errors import ReleaseError

app = typer.Typer(
    help="Release tooling for the churn-mlops workspace: changed members, tags, version bumps.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@contextmanager
def _release_errors() -> Iterator[None]:
    try:
        yield
    except ReleaseError as exc:
        errors.print(f"[bold red]error:[/bold red] {exc}", highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _workspace_root(repo_root: Path | None) -> Path:
    """``--repo-root``, else the nearest folder up from the cwd that is a uv workspace root."""
    if repo_root:
        return repo_root.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        project = folder / "pyproject.toml"
        if project.is_file() and "[tool.uv.workspace]" in project.read_text(encoding="utf-8"):
            return folder
    raise ReleaseError(
        f"No uv workspace root (a pyproject.toml with [tool.uv.workspace]) in {here} or above.",
        "run from the churn-mlops checkout, or pass --repo-root",
    )


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
    from churn_release.workspace_graph import affected_members, changed_paths, load_graph

    with _release_errors():
        if output not in ("lines", "json"):
            raise ReleaseError(
                f"Unknown --format {output!r}.", "use --format lines or --format json"
            )
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
    from churn_release.versioning import check_tag as check
    from churn_release.workspace_graph import load_graph

    with _release_errors():
        if output not in ("text", "json"):
            raise ReleaseError(
                f"Unknown --format {output!r}.", "use --format text or --format json"
            )
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
    from churn_release.versioning import bump

    with _release_errors():
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
    from churn_release.versioning import release_notes as notes

    with _release_errors():
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
    from churn_release.wheel_smoke import lock_constraints, smoke_install

    with _release_errors():
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
    """Console script ``churn-release``; ``argv`` defaults to the command line."""
    app(args=argv)
