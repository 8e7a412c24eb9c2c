"""The uv workspace's members, read from the root ``[tool.uv.workspace] members`` globs."""

from __future__ import annotations

import glob
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from churn_release.errors import ReleaseError


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


def workspace_members(repo_root: Path) -> tuple[Member, ...]:
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
        raise ReleaseError(
            f"No uv workspace members found under {repo_root}.", "run from the checkout"
        )
    return tuple(members)


def _read_toml(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)
