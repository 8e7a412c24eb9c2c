"""The workspace dependency graph, and which members a change touches (for selective CI).

A member's siblings are the workspace members named in its ``[project].dependencies``; a change
to a member selects it and every member that depends on it, directly or not (its reverse
closure), since their tests exercise it too.
"""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from churn_release.errors import ReleaseError
from churn_release.members import Member, workspace_members

EVERYTHING = (
    "uv.lock",
    "pyproject.toml",
    "noxfile.py",
    ".python-version",
    ".ci/*",
    ".github/workflows/*",
    ".github/actions/*",
)
"""Root paths every member is built or tested with: a change selects all members."""

NOTHING = (
    "*.md",
    "docs/*",
    "LICENSE*",
    ".gitignore",
    "benchmarks/*",
    "tests/*",
)
"""Paths outside the members that no member's tests depend on (docs; the cross-package tests in
``tests/`` and the benchmarks have their own CI jobs). Any other path outside the members selects
everything: an unknown file is treated as one that may matter."""


@dataclass(frozen=True)
class WorkspaceGraph:
    members: Mapping[str, Member]
    """Member name -> member, paths relative to the repository root."""
    requires: Mapping[str, Mapping[str, SpecifierSet]]
    """Member name -> {sibling name -> the version range it declares}."""

    def dependents(self, name: str) -> set[str]:
        """Every member that depends on ``name`` directly or through other members."""
        found: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for member, siblings in self.requires.items():
                if current in siblings and member not in found:
                    found.add(member)
                    frontier.append(member)
        found.discard(name)
        return found

    def with_dependents(self, names: Iterable[str]) -> list[str]:
        """``names`` plus their reverse closure, sorted."""
        selected = set(names)
        for name in list(selected):
            selected |= self.dependents(name)
        return sorted(selected)

    def member_at(self, path: str) -> str | None:
        """The member whose folder holds ``path`` (relative, POSIX), or None."""
        parts = PurePosixPath(path).parts
        for name, member in self.members.items():
            folder = PurePosixPath(member.path.as_posix()).parts
            if parts[: len(folder)] == folder:
                return name
        return None


def load_graph(repo_root: Path) -> WorkspaceGraph:
    """Read every member's sibling requirements from its ``pyproject.toml``."""
    root = repo_root.resolve()
    found = workspace_members(root)
    names = {canonicalize_name(m.name): m.name for m in found}
    members: dict[str, Member] = {}
    requires: dict[str, dict[str, SpecifierSet]] = {}
    for member in found:
        relative = member.path.resolve().relative_to(root)
        members[member.name] = Member(member.name, member.version, relative)
        requires[member.name] = {}
        pyproject = member.path / "pyproject.toml"
        for line in _read_project(pyproject).get("dependencies", []):
            try:
                requirement = Requirement(line)
            except InvalidRequirement as exc:
                raise ReleaseError(
                    f"{pyproject}: invalid dependency {line!r}: {exc}",
                    "write it as a PEP 508 requirement such as `churn-model>=0.1,<1`",
                ) from None
            sibling = names.get(canonicalize_name(requirement.name))
            if sibling is not None:
                requires[member.name][sibling] = requirement.specifier
    return WorkspaceGraph(members=members, requires=requires)


def affected_members(changed_paths: Iterable[str], graph: WorkspaceGraph) -> list[str]:
    """The members whose tests a change to ``changed_paths`` must run, sorted."""
    direct: set[str] = set()
    for raw in changed_paths:
        path = raw.strip().removeprefix("./")
        if not path:
            continue
        member = graph.member_at(path)
        if member is not None:
            direct.add(member)
        elif _matches(path, EVERYTHING) or not _matches(path, NOTHING):
            return sorted(graph.members)
    return graph.with_dependents(direct)


def changed_paths(repo_root: Path, base: str, head: str = "HEAD") -> list[str]:
    """Paths changed on ``head`` since it forked from ``base`` (``git diff base...head``).

    Renames count as a deletion plus an addition, so both folders are selected.
    """
    command = ["git", "diff", "--name-only", "--no-renames", f"{base}...{head}"]
    try:
        done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=True)
    except OSError as exc:
        raise ReleaseError(f"Cannot run git: {exc}", "install git") from None
    except subprocess.CalledProcessError as exc:
        raise ReleaseError(
            f"`{' '.join(command)}` failed: {exc.stderr.strip()}",
            f"fetch the base ref first (`git fetch origin {base.removeprefix('origin/')}`; "
            "in GitHub Actions check out with `fetch-depth: 0`)",
        ) from None
    return [line for line in done.stdout.splitlines() if line.strip()]


def _matches(path: str, patterns: Iterable[str]) -> bool:
    # fnmatch's `*` crosses `/`, so `docs/*` covers the whole folder and `*.md` any markdown file.
    return any(fnmatch(path, pattern) for pattern in patterns)


def _read_project(path: Path) -> dict:
    with path.open("rb") as handle:
        project: dict = tomllib.load(handle)["project"]
    return project
