"""The changed-path -> member mapping that selects which members' tests a pull request runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from typer.testing import CliRunner

from churn_release.cli import app
from churn_release.errors import ReleaseError
from churn_release.members import Member, workspace_members
from churn_release.workspace_graph import (
    WorkspaceGraph,
    affected_members,
    changed_paths,
    load_graph,
)

ALL = [
    "churn-features",
    "churn-infra",
    "churn-jobs",
    "churn-local-spark",
    "churn-model",
    "churn-monitoring",
    "churn-registry-ops",
    "churn-release",
    "churn-scoring",
    "churn-serving",
]


@pytest.fixture(scope="module")
def graph(repo_root: Path) -> WorkspaceGraph:
    return load_graph(repo_root)


def test_the_real_graph_has_every_member_and_its_sibling_ranges(graph: WorkspaceGraph) -> None:
    assert sorted(graph.members) == ALL
    assert graph.members["churn-model"].path == Path("packages/churn-model")
    assert sorted(graph.requires["churn-scoring"]) == ["churn-features", "churn-model"]
    assert graph.requires["churn-infra"] == {
        "churn-features": SpecifierSet(">=0.1,<1"),
        "churn-jobs": SpecifierSet(">=0.1,<1"),
        "churn-registry-ops": SpecifierSet(">=0.1,<1"),  # the champion alias the endpoint follows
    }
    assert graph.requires["churn-release"] == {}  # dev-only, imports no member
    assert graph.requires["churn-model"] == {}


def test_a_model_change_selects_the_model_and_everything_built_on_it(
    graph: WorkspaceGraph,
) -> None:
    selected = affected_members(["packages/churn-model/src/churn_model/training.py"], graph)
    assert selected == [
        "churn-infra",
        "churn-jobs",
        "churn-model",
        "churn-registry-ops",
        "churn-scoring",
        "churn-serving",
    ]


def test_an_infra_change_selects_only_infra(graph: WorkspaceGraph) -> None:
    assert affected_members(["infra/environments/prod.yaml"], graph) == ["churn-infra"]


def test_a_features_change_skips_the_members_that_do_not_use_features(
    graph: WorkspaceGraph,
) -> None:
    selected = affected_members(["packages/churn-features/tests/test_x.py"], graph)
    assert selected == [
        "churn-features",
        "churn-infra",
        "churn-jobs",
        "churn-scoring",
        "churn-serving",
    ]


@pytest.mark.parametrize(
    "path",
    ["uv.lock", "pyproject.toml", "noxfile.py", ".github/workflows/pr.yml", ".ci/run", "setup.cfg"],
)
def test_root_files_and_unknown_paths_select_every_member(graph: WorkspaceGraph, path: str) -> None:
    assert affected_members([path], graph) == ALL


def test_docs_and_cross_package_tests_select_no_member(graph: WorkspaceGraph) -> None:
    changed = ["README.md", "RELEASING.md", "docs/architecture.md", "tests/test_e2e.py", ""]
    assert affected_members(changed, graph) == []


def test_a_member_readme_selects_that_member(graph: WorkspaceGraph) -> None:
    # The README is the wheel's long description: it ships with the package.
    assert affected_members(["packages/churn-scoring/README.md"], graph) == [
        "churn-infra",
        "churn-jobs",
        "churn-scoring",
    ]


def test_a_folder_that_only_shares_a_prefix_is_not_the_member(graph: WorkspaceGraph) -> None:
    assert graph.member_at("packages/churn-model-extras/x.py") is None
    assert graph.member_at("infra-notes.txt") is None


def test_dependents_are_the_transitive_reverse_closure() -> None:
    spec = SpecifierSet(">=0.1,<1")
    members = {n: Member(n, "0.1.0", Path(f"packages/{n}")) for n in ("a", "b", "c", "d")}
    graph = WorkspaceGraph(
        members=members, requires={"a": {}, "b": {"a": spec}, "c": {"b": spec}, "d": {}}
    )
    assert graph.dependents("a") == {"b", "c"}
    assert affected_members(["packages/a/x.py"], graph) == ["a", "b", "c"]
    assert affected_members(["packages/d/x.py", "packages/c/y.py"], graph) == ["c", "d"]


@pytest.fixture
def git_workspace(tmp_path: Path, repo_root: Path) -> Path:
    """A git repository holding this workspace's root and member pyprojects, one commit."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(repo_root / "pyproject.toml", root / "pyproject.toml")
    for member in workspace_members(repo_root):
        relative = member.path.relative_to(repo_root)
        (root / relative).mkdir(parents=True)
        shutil.copy(member.path / "pyproject.toml", root / relative / "pyproject.toml")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_changed_paths_lists_both_sides_of_a_rename(git_workspace: Path) -> None:
    _git(git_workspace, "checkout", "-q", "-b", "feature")
    source = git_workspace / "packages/churn-features/src/a.py"
    source.parent.mkdir(parents=True)
    source.write_text("x = 1\n" * 20)
    _git(git_workspace, "add", ".")
    _git(git_workspace, "commit", "-q", "-m", "add")
    _git(git_workspace, "checkout", "-q", "main")
    _git(git_workspace, "merge", "-q", "feature")
    _git(git_workspace, "checkout", "-q", "feature")
    (git_workspace / "packages/churn-model/src").mkdir(parents=True)
    _git(git_workspace, "mv", "packages/churn-features/src/a.py", "packages/churn-model/src/a.py")
    _git(git_workspace, "commit", "-q", "-m", "move")

    assert sorted(changed_paths(git_workspace, "main")) == [
        "packages/churn-features/src/a.py",
        "packages/churn-model/src/a.py",
    ]


def test_cli_prints_the_selection_since_the_fork_point(git_workspace: Path) -> None:
    _git(git_workspace, "checkout", "-q", "-b", "feature")
    (git_workspace / "infra" / "README.md").write_text("changed\n")
    _git(git_workspace, "add", ".")
    _git(git_workspace, "commit", "-q", "-m", "infra docs")
    # A later commit on main (not on the branch) must not count: the diff is base...head.
    _git(git_workspace, "checkout", "-q", "main")
    (git_workspace / "uv.lock").write_text("# lock\n")
    _git(git_workspace, "add", ".")
    _git(git_workspace, "commit", "-q", "-m", "lock on main")

    args = ["changed-packages", "--base", "main", "--head", "feature"]
    args += ["--repo-root", str(git_workspace)]
    as_json = CliRunner().invoke(app, [*args, "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == ["churn-infra"]
    as_lines = CliRunner().invoke(app, args)
    assert as_lines.stdout.splitlines() == ["churn-infra"]


def test_cli_names_an_unknown_base_and_exits_2(git_workspace: Path) -> None:
    result = CliRunner().invoke(
        app, ["changed-packages", "--base", "origin/nope", "--repo-root", str(git_workspace)]
    )
    assert result.exit_code == 2
    assert "origin/nope" in result.output
    assert "fetch-depth: 0" in result.output


def test_an_invalid_dependency_line_is_a_user_error(git_workspace: Path) -> None:
    project = git_workspace / "packages/churn-model/pyproject.toml"
    project.write_text(project.read_text().replace('"numpy>=1.26"', '"numpy>=>1.26"'))
    with pytest.raises(ReleaseError, match=r"numpy>=>1\.26"):
        load_graph(git_workspace)
