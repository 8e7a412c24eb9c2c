"""Independent member versions: release tags, changelog entries and the version bump.

A release of one member is the tag ``<package>-v<X.Y.Z>`` on a commit whose
``<member>/pyproject.toml`` says ``version = "X.Y.Z"`` and whose ``CHANGELOG.md`` has a
``## [X.Y.Z]`` entry. ``bump`` makes such a commit possible: after checking the changelog and
that every sibling's declared range still admits the new version, ``uv version --package``
changes that one version line and relocks. Changed-member detection (workspace_graph) stays
ours: no maintained tool selects uv workspace members from a git diff with their dependents.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from churn_release.errors import ReleaseError
from churn_release.members import Member
from churn_release.workspace_graph import WorkspaceGraph, load_graph

TAG_PATTERN = re.compile(r"^(?P<package>[a-z0-9]+(?:-[a-z0-9]+)*)-v(?P<version>\d+\.\d+\.\d+)$")
RELEASE_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


@dataclass(frozen=True)
class Tag:
    package: str
    version: str

    @property
    def name(self) -> str:
        return tag_name(self.package, self.version)


@dataclass(frozen=True)
class Bump:
    member: Member
    old_version: str
    new_version: str
    lock_updated: bool

    @property
    def tag(self) -> str:
        return tag_name(self.member.name, self.new_version)

    @property
    def tag_command(self) -> str:
        return f"git tag {self.tag} && git push origin {self.tag}"


def tag_name(package: str, version: str) -> str:
    return f"{package}-v{version}"


def parse_tag(tag: str) -> Tag:
    """Split ``churn-model-v0.3.0`` into package and version; refuse any other shape."""
    name = tag.strip().removeprefix("refs/tags/")
    match = TAG_PATTERN.match(name)
    if match is None:
        raise ReleaseError(
            f"Tag {tag!r} is not a release tag.",
            "release tags are `<package>-v<X.Y.Z>`, e.g. churn-model-v0.3.0",
        )
    return Tag(match["package"], match["version"])


def check_tag(tag: str, graph: WorkspaceGraph) -> Member:
    """The member a release tag names, if its pyproject version is exactly the tag's version."""
    parsed = parse_tag(tag)
    member = graph.members.get(parsed.package)
    if member is None:
        raise ReleaseError(
            f"Tag {tag!r} names {parsed.package!r}, which is not a workspace member.",
            f"tag one of: {', '.join(sorted(graph.members))}",
        )
    if member.version != parsed.version:
        raise ReleaseError(
            f"Tag {tag!r} says {parsed.version} but {member.path}/pyproject.toml says "
            f"{member.name} {member.version}.",
            f"delete the tag (`git tag -d {tag} && git push origin :refs/tags/{tag}`) and tag "
            f"the commit that bumped {member.name} (`nox -s release -- {member.name} "
            f"{parsed.version}`, merged), or tag {tag_name(member.name, member.version)}",
        )
    return member


def changelog_entry(changelog: str, version: str) -> str | None:
    """The body of the ``## [version]`` section of a Keep-a-Changelog file, or None."""
    heading = re.compile(rf"^##\s+\[?v?{re.escape(version)}\]?(?=\s|$).*$", re.MULTILINE)
    match = heading.search(changelog)
    if match is None:
        return None
    rest = changelog[match.end() :]
    following = re.search(r"^##\s", rest, re.MULTILINE)
    body = rest[: following.start()] if following else rest
    # Link references (`[0.1.0]: https://...`) belong to the file, not to the entry.
    lines = [line for line in body.splitlines() if not re.match(r"^\[[^\]]+\]:\s", line)]
    return "\n".join(lines).strip()


def release_notes(repo_root: Path, package: str, version: str) -> str:
    """A member's changelog entry for ``version``; an error if it has none."""
    member = _member(load_graph(repo_root), package)
    changelog = repo_root / member.path / "CHANGELOG.md"
    entry = changelog_entry(_read(changelog), version)
    if entry is None:
        raise ReleaseError(
            f"{member.path}/CHANGELOG.md has no entry for {version}.",
            f"add a `## [{version}] - YYYY-MM-DD` section describing the release",
        )
    return entry


def sibling_conflicts(graph: WorkspaceGraph, package: str, version: str) -> list[str]:
    """Members whose declared range for ``package`` would exclude ``version``."""
    new = Version(version)
    return [
        f"{member} requires {package}{siblings[package]} "
        f"(in {graph.members[member].path}/pyproject.toml)"
        for member, siblings in sorted(graph.requires.items())
        if package in siblings and not siblings[package].contains(new, prereleases=True)
    ]


def bump(repo_root: Path, package: str, version: str, *, lock: bool = True) -> Bump:
    """Set one member's version after every check passes; refresh ``uv.lock`` if ``lock``.

    The lock records each member's version, and every nox session syncs with ``--locked``, so a
    bump without a relock would fail the next CI run.
    """
    root = repo_root.resolve()
    graph = load_graph(root)
    member = _member(graph, package)
    if not RELEASE_VERSION.match(version):
        raise ReleaseError(
            f"Version {version!r} is not X.Y.Z.",
            "release versions are three numbers, e.g. 0.2.0 (tags are <package>-vX.Y.Z)",
        )
    try:
        current = Version(member.version)
    except InvalidVersion:
        raise ReleaseError(f"{member.path}/pyproject.toml has an invalid version.") from None
    if Version(version) <= current:
        raise ReleaseError(
            f"{member.name} is at {member.version}; {version} is not greater.",
            "choose a higher version: a published version is never re-used",
        )
    changelog = root / member.path / "CHANGELOG.md"
    if changelog_entry(_read(changelog), version) is None:
        raise ReleaseError(
            f"{member.path}/CHANGELOG.md has no entry for {version}.",
            f"add a `## [{version}] - YYYY-MM-DD` section (move the Unreleased notes there) "
            "and run the release again",
        )
    if _tag_exists(root, tag_name(member.name, version)):
        raise ReleaseError(
            f"The tag {tag_name(member.name, version)} already exists.",
            "a released version is never re-used: choose the next version",
        )
    conflicts = sibling_conflicts(graph, member.name, version)
    if conflicts:
        raise ReleaseError(
            f"Releasing {member.name} {version} would break siblings whose ranges exclude it: "
            + "; ".join(conflicts)
            + ".",
            f"widen those ranges to admit {version} (e.g. raise the upper bound to "
            f"`<{Version(version).major + 1}`), check those members work with it, and release "
            "them too",
        )
    locked = _set_version(root, member.name, version, lock=lock and (root / "uv.lock").is_file())
    bumped = Member(member.name, version, member.path)
    return Bump(member=bumped, old_version=member.version, new_version=version, lock_updated=locked)


def _set_version(root: Path, package: str, version: str, *, lock: bool) -> bool:
    """``uv version --package``: uv edits the one ``version`` line (layout and comments kept)
    and, unless ``--frozen``, refreshes ``uv.lock``, which records every member's version (every
    nox session syncs ``--locked``, so a bump without a relock would fail the next CI run).

    From uv's cache first (``--offline``): the relock keeps every locked version either way, and
    online it revalidates what the index calls stale (PyPI's pages: after 10 minutes), pyspark's
    sdist among them. That leaves a new revision of it, which the next sync builds again (about
    40 CPU s; in CI, the relock test did so in the middle of every run)."""
    command = ["uv", "version", "--package", package, version]
    command.append("--no-sync" if lock else "--frozen")
    for attempt in ([*command, "--offline"], command):
        done = subprocess.run(attempt, cwd=root, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            break
    if done.returncode != 0:
        raise ReleaseError(
            f"`{' '.join(command)}` failed:\n{done.stderr.strip()[-2000:]}",
            "fix the cause, then release again (check `git diff` for a half-done bump)",
        )
    return lock


def _tag_exists(root: Path, tag: str) -> bool:
    """Whether the checkout knows the tag (False outside a git checkout)."""
    done = subprocess.run(
        ["git", "tag", "--list", tag], cwd=root, capture_output=True, text=True, check=False
    )
    return done.returncode == 0 and bool(done.stdout.strip())


def _member(graph: WorkspaceGraph, package: str) -> Member:
    member = graph.members.get(package)
    if member is None:
        raise ReleaseError(
            f"{package!r} is not a workspace member.",
            f"choose one of: {', '.join(sorted(graph.members))}",
        )
    return member


def _read(path: Path) -> str:
    if not path.is_file():
        raise ReleaseError(
            f"{path} does not exist.",
            "keep a CHANGELOG.md (Keep a Changelog format) in every member",
        )
    return path.read_text()
