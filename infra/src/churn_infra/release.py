"""What gets deployed: the wheels a job task installs, their versions, the commit and a hash.

A task runs a churn-jobs console script, so a release is churn-jobs and the workspace members it
depends on (never churn-infra or dev-only tools). It lives under
``<artifact_location>/releases/<commit12>-<content hash>/``: the hash covers every file of those
members' sources (tracked or not, ignored files aside), so a path always names one content and
the same sources always land on the same path. The ``git_dirty`` job tag says whether the tree
had uncommitted changes.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from churn_infra.errors import InfraError
from churn_infra.wheel_cache import cached_wheels, store_wheels

APPLICATION = "churn-jobs"
"""The distribution whose console scripts the tasks run; the release is it and its siblings."""


@dataclass(frozen=True)
class Member:
    name: str
    version: str
    path: Path
    siblings: tuple[str, ...] = ()
    """Workspace members named in its ``[project].dependencies``."""

    @property
    def wheel_file(self) -> str:
        """The file name ``uv build`` produces for this pure-Python member."""
        normalized = re.sub(r"[-_.]+", "_", self.name).lower()
        return f"{normalized}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class GitState:
    commit: str
    dirty: bool
    """Uncommitted changes to tracked files, or untracked files under a shipped member."""

    @property
    def short(self) -> str:
        return self.commit[:12]


@dataclass(frozen=True)
class Release:
    members: tuple[Member, ...]
    git: GitState
    content_hash: str
    wheel_dir: Path | None = None
    """Where the built wheels are; None for a release named without building."""
    reused_wheels: bool = False
    """The wheels were copied from the wheel cache, not built (``build_release``)."""

    @property
    def path(self) -> str:
        return f"{self.git.short}-{self.content_hash}"

    @property
    def versions(self) -> dict[str, str]:
        return {m.name: m.version for m in self.members}

    @property
    def wheel_files(self) -> list[str]:
        return [m.wheel_file for m in self.members]

    def remote_dir(self, artifact_location: str) -> str:
        """The versioned folder of this release under an artifact location."""
        return f"{artifact_location.rstrip('/')}/releases/{self.path}"

    def remote_wheels(self, artifact_location: str) -> list[str]:
        folder = self.remote_dir(artifact_location)
        return [f"{folder}/{name}" for name in self.wheel_files]


def workspace_members(repo_root: Path) -> dict[str, Member]:
    """Every member of the uv workspace, from the root ``[tool.uv.workspace] members`` globs."""
    root = _read_toml(repo_root / "pyproject.toml")
    patterns = root.get("tool", {}).get("uv", {}).get("workspace", {}).get("members", [])
    folders = [Path(f) for p in patterns for f in sorted(glob.glob(str(repo_root / p)))]
    projects = [
        (folder, _read_toml(folder / "pyproject.toml")["project"])
        for folder in folders
        if (folder / "pyproject.toml").is_file()
    ]
    names = {canonicalize_name(project["name"]): project["name"] for _, project in projects}
    members = {}
    for folder, project in projects:
        requirements = [Requirement(line) for line in project.get("dependencies", [])]
        siblings = tuple(
            names[canonicalize_name(r.name)]
            for r in requirements
            if canonicalize_name(r.name) in names
        )
        members[project["name"]] = Member(project["name"], project["version"], folder, siblings)
    if APPLICATION not in members:
        raise InfraError(
            f"No uv workspace member {APPLICATION} found under {repo_root}.",
            "run from the churn-mlops checkout (or pass --repo-root)",
        )
    return members


def shipped_members(repo_root: Path) -> tuple[Member, ...]:
    """churn-jobs and every member it depends on, directly or not (what a task installs)."""
    members = workspace_members(repo_root)
    wanted: list[str] = []
    frontier = [APPLICATION]
    while frontier:
        name = frontier.pop()
        if name not in wanted:
            wanted.append(name)
            frontier.extend(members[name].siblings)
    return tuple(members[name] for name in sorted(wanted))


def git_state(repo_root: Path, members: tuple[Member, ...] = ()) -> GitState:
    commit = _git(repo_root, "rev-parse", "HEAD")
    changed = _git(repo_root, "status", "--porcelain", "--untracked-files=no")
    untracked = _untracked(repo_root, members)
    return GitState(commit=commit, dirty=bool(changed or untracked))


def content_hash(repo_root: Path, members: tuple[Member, ...]) -> str:
    """SHA-256 (first 10 hex digits) of the shipped members' files: path and bytes of each file
    git tracks or would track (``.gitignore``d files, such as build output, are left out)."""
    listed = _git(
        repo_root,
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
        "--",
        *(_relative(repo_root, m.path) for m in members),
    )
    digest = hashlib.sha256()
    for name in sorted(set(filter(None, listed.split("\0")))):
        path = repo_root / name
        if path.is_file():  # a deleted tracked file is listed but absent
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:10]


def predict_release(repo_root: Path, git: GitState | None = None) -> Release:
    """The release as it would be named, without building (definitions, show, bundles)."""
    members = shipped_members(repo_root)
    state = git or git_state(repo_root, members)
    return Release(members, state, content_hash(repo_root, members))


def build_release(
    repo_root: Path, out_dir: Path, git: GitState | None = None, *, cache: Path | None = None
) -> Release:
    """Build each shipped member's wheel with ``uv build --package <name> --out-dir <out_dir>``.

    With ``cache`` (``churn_infra.wheel_cache``), wheels built before from the same content are
    copied to ``out_dir`` instead, and newly built ones are kept there for the next build."""
    release = predict_release(repo_root, git)
    out_dir.mkdir(parents=True, exist_ok=True)
    cached = cached_wheels(cache, release.content_hash, release.wheel_files) if cache else None
    if cached is not None:
        for name in release.wheel_files:
            shutil.copy2(cached / name, out_dir / name)
    else:
        _build_wheels(repo_root, out_dir, release.members)
        if cache is not None:
            # the cache only saves time: one that cannot be written must not fail a deploy
            with contextlib.suppress(OSError):
                store_wheels(
                    cache, release.content_hash, [out_dir / n for n in release.wheel_files]
                )
    return Release(
        release.members,
        release.git,
        release.content_hash,
        wheel_dir=out_dir,
        reused_wheels=cached is not None,
    )


def _build_wheels(repo_root: Path, out_dir: Path, members: tuple[Member, ...]) -> None:
    for member in members:
        command = ["uv", "build", "--package", member.name, "--wheel", "--out-dir", str(out_dir)]
        done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise InfraError(
                f"Building the {member.name} wheel failed:\n{done.stderr.strip()[-2000:]}",
                f"run `{' '.join(command)}` and fix the build",
            )
        if not (out_dir / member.wheel_file).is_file():
            raise InfraError(f"uv build did not produce {member.wheel_file} in {out_dir}.")


def _untracked(repo_root: Path, members: tuple[Member, ...]) -> str:
    if not members:
        return ""
    return _git(
        repo_root,
        "ls-files",
        "--others",
        "--exclude-standard",
        "--",
        *(_relative(repo_root, m.path) for m in members),
    )


def _relative(repo_root: Path, path: Path) -> str:
    return path.resolve().relative_to(repo_root.resolve()).as_posix()


def _git(repo_root: Path, *args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=repo_root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InfraError(
            f"Cannot read the git state of {repo_root}: {exc}",
            "deploy from a git checkout of churn-mlops",
        ) from None
    return done.stdout.strip()


def _read_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)
