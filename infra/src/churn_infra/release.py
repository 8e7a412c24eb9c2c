"""What gets deployed: the workspace members' wheels, their versions and the git commit.

A release lives under ``<artifact_location>/releases/<path>/`` where ``<path>`` is the short git
commit, plus ``-dirty-<hash of the wheels>`` when the tree has uncommitted changes, so a job's
libraries always point at the exact bytes they were deployed with.
"""

from __future__ import annotations

import glob
import hashlib
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from churn_jobs.errors import UserError


@dataclass(frozen=True)
class Member:
    name: str
    version: str
    path: Path

    @property
    def wheel_file(self) -> str:
        """The file name ``uv build`` produces for this pure-Python member."""
        normalized = re.sub(r"[-_.]+", "_", self.name).lower()
        return f"{normalized}-{self.version}-py3-none-any.whl"


@dataclass(frozen=True)
class GitState:
    commit: str
    dirty: bool

    @property
    def short(self) -> str:
        return self.commit[:12]


@dataclass(frozen=True)
class Release:
    members: tuple[Member, ...]
    git: GitState
    path: str
    wheel_dir: Path | None = None
    """Where the built wheels are; None for a release predicted without building."""

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


def workspace_members(repo_root: Path) -> tuple[Member, ...]:
    """Every member of the uv workspace, from the root ``[tool.uv.workspace] members`` globs."""
    root = _read_toml(repo_root / "pyproject.toml")
    patterns = root.get("tool", {}).get("uv", {}).get("workspace", {}).get("members", [])
    members = []
    for pattern in patterns:
        for folder in sorted(glob.glob(str(repo_root / pattern))):
            project_file = Path(folder) / "pyproject.toml"
            if project_file.is_file():
                project = _read_toml(project_file)["project"]
                members.append(Member(project["name"], project["version"], Path(folder)))
    if not members:
        raise UserError(
            f"No uv workspace members found under {repo_root}.", "run from the checkout"
        )
    return tuple(members)


def git_state(repo_root: Path) -> GitState:
    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=repo_root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise UserError(
                f"Cannot read the git state of {repo_root}: {exc}",
                "deploy from a git checkout of churn-mlops",
            ) from None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return GitState(commit=commit, dirty=dirty)


def predict_release(repo_root: Path, git: GitState | None = None) -> Release:
    """The release as it would be named, without building (for definitions, tests, bundles)."""
    state = git or git_state(repo_root)
    path = state.short + ("-dirty" if state.dirty else "")
    return Release(members=workspace_members(repo_root), git=state, path=path)


def build_release(repo_root: Path, out_dir: Path, git: GitState | None = None) -> Release:
    """Build every member's wheel with ``uv build --package <name> --out-dir <out_dir>``."""
    state = git or git_state(repo_root)
    members = workspace_members(repo_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    for member in members:
        command = ["uv", "build", "--package", member.name, "--wheel", "--out-dir", str(out_dir)]
        done = subprocess.run(command, cwd=repo_root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise UserError(
                f"Building the {member.name} wheel failed:\n{done.stderr.strip()[-2000:]}",
                f"run `{' '.join(command)}` and fix the build",
            )
        if not (out_dir / member.wheel_file).is_file():
            raise UserError(f"uv build did not produce {member.wheel_file} in {out_dir}.")
    path = state.short
    if state.dirty:
        digest = hashlib.sha256()
        for member in members:
            digest.update((out_dir / member.wheel_file).read_bytes())
        path += f"-dirty-{digest.hexdigest()[:8]}"
    return Release(members=members, git=state, path=path, wheel_dir=out_dir)


def _read_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)
