"""Release tags, changelog entries and `churn-infra release` on a copy of the workspace."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn_release.cli import app
from churn_release.errors import ReleaseError
from churn_release.members import workspace_members
from churn_release.versioning import (
    bump,
    changelog_entry,
    check_tag,
    parse_tag,
)
from churn_release.workspace_graph import load_graph

CHANGELOG = """# Changelog

## [Unreleased]

## [0.2.0] - 2026-12-01

### Fixed
- the thing

## [0.1.0] - 2026-11-26

### Added
- everything

[0.2.0]: https://example.com/compare/churn-model-v0.1.0...churn-model-v0.2.0
"""


@pytest.fixture
def workspace(tmp_path: Path, repo_root: Path) -> Path:
    """A copy of the workspace's project files, changelogs and lock (no sources, no git)."""
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(repo_root / name, root / name)
    for member in workspace_members(repo_root):
        target = root / member.path.relative_to(repo_root)
        target.mkdir(parents=True)
        for name in ("pyproject.toml", "CHANGELOG.md"):
            shutil.copy(member.path / name, target / name)
    return root


def _version(root: Path, member: str) -> str:
    with (root / member / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def _add_entry(root: Path, member: str, version: str) -> None:
    changelog = root / member / "CHANGELOG.md"
    changelog.write_text(
        changelog.read_text().replace(
            "## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - 2026-12-01\n\n- x\n"
        )
    )


# --- tags ---------------------------------------------------------------------------------


def test_a_tag_splits_into_package_and_version() -> None:
    tag = parse_tag("refs/tags/churn-registry-ops-v1.10.0")
    assert (tag.package, tag.version, tag.name) == (
        "churn-registry-ops",
        "1.10.0",
        "churn-registry-ops-v1.10.0",
    )


@pytest.mark.parametrize(
    "tag",
    ["v0.1.0", "churn-model-0.1.0", "churn-model-v0.1", "churn-model-v0.1.0rc1", "x-v1.2.3.4"],
)
def test_malformed_tags_are_refused(tag: str) -> None:
    with pytest.raises(ReleaseError, match="not a release tag"):
        parse_tag(tag)


def test_each_members_current_tag_passes(repo_root: Path) -> None:
    graph = load_graph(repo_root)
    for name, member in graph.members.items():
        assert check_tag(f"{name}-v{member.version}", graph).name == name


def test_check_tag_cli_names_the_mismatch_and_exits_2(repo_root: Path) -> None:
    current = _version(repo_root, "packages/churn-model")
    result = CliRunner().invoke(
        app, ["check-tag", "churn-model-v99.0.0", "--repo-root", str(repo_root)]
    )
    assert result.exit_code == 2
    assert "99.0.0" in result.output
    assert f"churn-model {current}" in result.output
    assert "git push origin :refs/tags/churn-model-v99.0.0" in result.output


def test_check_tag_cli_refuses_an_unknown_package(repo_root: Path) -> None:
    result = CliRunner().invoke(
        app, ["check-tag", "churn-widgets-v0.1.0", "--repo-root", str(repo_root)]
    )
    assert result.exit_code == 2
    assert "not a workspace member" in result.output


def test_check_tag_json_says_what_the_release_tests(repo_root: Path) -> None:
    version = _version(repo_root, "packages/churn-registry-ops")
    result = CliRunner().invoke(
        app,
        [
            "check-tag",
            f"churn-registry-ops-v{version}",
            "--format",
            "json",
            "--repo-root",
            str(repo_root),
        ],
    )
    assert result.exit_code == 0, result.output
    described = json.loads(result.stdout)
    assert described["package"] == "churn-registry-ops"
    assert described["import_name"] == "churn_registry_ops"
    assert described["wheel"] == f"churn_registry_ops-{version}-py3-none-any.whl"
    assert described["test_members"] == ["churn-infra", "churn-jobs", "churn-registry-ops"]
    assert (repo_root / described["path"] / "src" / described["import_name"]).is_dir()


# --- changelog ----------------------------------------------------------------------------


def test_changelog_entry_is_the_section_body_without_link_references() -> None:
    assert changelog_entry(CHANGELOG, "0.2.0") == "### Fixed\n- the thing"
    assert changelog_entry(CHANGELOG, "0.1.0") == "### Added\n- everything"
    assert changelog_entry(CHANGELOG, "0.3.0") is None
    assert changelog_entry(CHANGELOG, "0.1") is None


def test_every_member_has_a_changelog_entry_for_its_current_version(repo_root: Path) -> None:
    for member in workspace_members(repo_root):
        entry = changelog_entry((member.path / "CHANGELOG.md").read_text(), member.version)
        assert entry, f"{member.name}: no `## [{member.version}]` entry in CHANGELOG.md"


# --- version bump -------------------------------------------------------------------------


def test_release_bumps_one_member_and_prints_the_tag_command(workspace: Path) -> None:
    before = {p: p.read_text() for p in workspace.rglob("pyproject.toml")}
    _add_entry(workspace, "packages/churn-model", "0.2.0")

    result = CliRunner().invoke(
        app, ["release", "churn-model", "0.2.0", "--no-lock", "--repo-root", str(workspace)]
    )

    assert result.exit_code == 0, result.output
    assert "git tag churn-model-v0.2.0 && git push origin churn-model-v0.2.0" in result.stdout
    bumped = workspace / "packages/churn-model/pyproject.toml"
    assert _version(workspace, "packages/churn-model") == "0.2.0"
    assert bumped.read_text() == before[bumped].replace('version = "0.1.0"', 'version = "0.2.0"', 1)
    unchanged = [p for p in before if p != bumped]
    assert all(p.read_text() == before[p] for p in unchanged)


def test_release_relocks_so_locked_syncs_keep_working(workspace: Path) -> None:
    _add_entry(workspace, "infra", "0.1.1")
    lock_before = (workspace / "uv.lock").read_text()

    done = bump(workspace, "churn-infra", "0.1.1")  # uv version --package, offline from the lock

    assert done.lock_updated
    lock_after = (workspace / "uv.lock").read_text()
    entry = 'name = "churn-infra"\nversion = "0.1.1"'
    assert entry in lock_after
    assert entry not in lock_before


def test_release_refuses_without_a_changelog_entry(workspace: Path) -> None:
    result = CliRunner().invoke(
        app, ["release", "churn-model", "0.2.0", "--no-lock", "--repo-root", str(workspace)]
    )
    assert result.exit_code == 2
    assert "packages/churn-model/CHANGELOG.md has no entry for 0.2.0" in result.output
    assert _version(workspace, "packages/churn-model") == "0.1.0"


@pytest.mark.parametrize("version", ["0.1.0", "0.0.9"])
def test_release_refuses_a_version_that_is_not_greater(workspace: Path, version: str) -> None:
    _add_entry(workspace, "packages/churn-model", version)
    with pytest.raises(ReleaseError, match="is not greater"):
        bump(workspace, "churn-model", version, lock=False)


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0rc1", "1.0.0.post1"])
def test_release_refuses_a_version_that_is_not_three_numbers(workspace: Path, version: str) -> None:
    with pytest.raises(ReleaseError, match=r"is not X\.Y\.Z"):
        bump(workspace, "churn-model", version, lock=False)


def test_release_refuses_a_version_a_sibling_range_excludes(workspace: Path) -> None:
    _add_entry(workspace, "packages/churn-model", "1.0.0")

    result = CliRunner().invoke(
        app, ["release", "churn-model", "1.0.0", "--no-lock", "--repo-root", str(workspace)]
    )

    assert result.exit_code == 2
    for member in ("churn-jobs", "churn-registry-ops", "churn-scoring"):
        assert f"{member} requires churn-model<1,>=0.1" in result.output
    assert "churn-features requires" not in result.output
    assert "services/churn-jobs/pyproject.toml" in result.output
    assert _version(workspace, "packages/churn-model") == "0.1.0"


def test_release_goes_through_once_the_ranges_are_widened(workspace: Path) -> None:
    _add_entry(workspace, "packages/churn-model", "1.0.0")
    for member in workspace.glob("*/*/pyproject.toml"):
        member.write_text(
            member.read_text().replace('"churn-model>=0.1,<1"', '"churn-model>=0.1,<2"')
        )

    done = bump(workspace, "churn-model", "1.0.0", lock=False)

    assert (done.old_version, done.new_version, done.tag) == (
        "0.1.0",
        "1.0.0",
        "churn-model-v1.0.0",
    )


def test_release_refuses_an_unknown_member(workspace: Path) -> None:
    with pytest.raises(ReleaseError, match="'churn-widgets' is not a workspace member"):
        bump(workspace, "churn-widgets", "0.2.0", lock=False)


def test_release_notes_cli_prints_the_entry(workspace: Path) -> None:
    result = CliRunner().invoke(
        app, ["release-notes", "churn-model", "0.1.0", "--repo-root", str(workspace)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("### Added\n")
    assert "## [0.1.0]" not in result.stdout
    missing = CliRunner().invoke(
        app, ["release-notes", "churn-model", "0.9.0", "--repo-root", str(workspace)]
    )
    assert missing.exit_code == 2
