"""Install one member's built wheel outside the workspace and import it: what a user gets.

Siblings are pinned to the LOWEST version the wheel's own ``Requires-Dist`` ranges admit among
the available sibling wheels, so a range that promises more than the siblings deliver (a floor
too low, a sibling imported but not declared) fails here instead of on a user's machine. The
workspace venv cannot catch either: every member is installed there, editable, at its newest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from churn_release.errors import ReleaseError
from churn_release.shared_bytecode import seed_environment

LOCAL_EXTRA = "local"
"""The extra holding what a Databricks runtime provides (pyspark, delta-spark)."""
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys
name = sys.argv[1]
package = importlib.import_module(name)
if not package.__file__ or "site-packages" not in package.__file__:
    sys.exit(f"{name} was imported from {package.__file__}, not from the installed wheel")
modules = [name] + [m.name for m in pkgutil.walk_packages(package.__path__, name + ".")]
for module in modules:
    importlib.import_module(module)
print(f"imported {len(modules)} modules of {name}")
"""


@dataclass(frozen=True)
class BuiltWheel:
    name: str
    version: Version
    path: Path
    requires: tuple[Requirement, ...]
    """``Requires-Dist`` of the wheel's METADATA, as published."""

    @property
    def extras(self) -> set[str]:
        """The extras some requirement is gated behind (``; extra == "local"``)."""
        return {
            name
            for r in self.requires
            if r.marker is not None
            for name in _EXTRA.findall(str(r.marker))
        }

    @property
    def import_name(self) -> str:
        return self.name.replace("-", "_")


@dataclass(frozen=True)
class SmokeResult:
    member: str
    version: Version
    sibling_pins: Mapping[str, Version]
    installed: Mapping[str, str]
    output: str


def read_wheel(path: Path) -> BuiltWheel:
    name, version, _, _ = parse_wheel_filename(path.name)
    with zipfile.ZipFile(path) as archive:
        metadata_file = next(
            (n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None
        )
        if metadata_file is None:
            raise ReleaseError(f"{path} has no METADATA.", "rebuild it with `uv build`")
        metadata = Parser().parsestr(archive.read(metadata_file).decode())
    requires = tuple(Requirement(line) for line in metadata.get_all("Requires-Dist") or [])
    return BuiltWheel(str(name), version, path, requires)


def available_wheels(wheel_dir: Path) -> list[BuiltWheel]:
    return [read_wheel(path) for path in sorted(wheel_dir.glob("*.whl"))]


def lowest_sibling_pins(
    requires: Iterable[Requirement], available: Mapping[str, Iterable[Version]]
) -> dict[str, Version]:
    """For each requirement naming a sibling (a key of ``available``), the lowest available
    version its range admits. Raise one error listing every sibling no version satisfies.

    Requirements behind an extra (``; extra == "x"``) are optional and not pinned.
    """
    siblings = {canonicalize_name(name): name for name in available}
    ranges: dict[str, SpecifierSet] = {}
    problems: list[str] = []
    for requirement in requires:
        sibling = siblings.get(canonicalize_name(requirement.name))
        if sibling is None:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if not requirement.specifier:
            problems.append(
                f"{sibling} is required without a version range (declare one, e.g. >=0.1,<1)"
            )
        ranges[sibling] = ranges.get(sibling, SpecifierSet()) & requirement.specifier
    pins: dict[str, Version] = {}
    for sibling, specifier in sorted(ranges.items()):
        versions = sorted(specifier.filter(available[sibling], prereleases=True))
        if versions:
            pins[sibling] = versions[0]
        else:
            offered = ", ".join(str(v) for v in sorted(available[sibling])) or "none"
            problems.append(f"{sibling}{specifier} matches no available version ({offered})")
    if problems:
        raise ReleaseError(
            "Sibling ranges are not satisfiable: " + "; ".join(problems) + ".",
            "fix the ranges in the member's pyproject.toml to admit released sibling versions",
        )
    return pins


def lock_constraints(repo_root: Path, out: Path) -> Path:
    """The locked third-party versions as a constraints file (members excluded)."""
    _uv(
        "export",
        "--frozen",
        "--no-hashes",
        "--all-packages",
        "--no-emit-workspace",
        "--no-dev",
        "--output-file",
        str(out),
        cwd=repo_root,
    )
    return out


def smoke_install(
    member: str,
    wheel_dir: Path,
    venv_dir: Path,
    *,
    constraints: Path | None = None,
    python: str | None = None,
) -> SmokeResult:
    """Create ``venv_dir``, install ``member``'s wheel with its siblings at their lowest allowed
    versions from ``wheel_dir``, and import every module of it there (from a neutral cwd)."""
    wheels = available_wheels(wheel_dir)
    versions: dict[str, list[Version]] = {}
    for wheel in wheels:
        versions.setdefault(wheel.name, []).append(wheel.version)
    own = sorted(
        (w for w in wheels if canonicalize_name(w.name) == canonicalize_name(member)),
        key=lambda w: w.version,
    )
    if not own:
        raise ReleaseError(
            f"No {member} wheel in {wheel_dir}.",
            f"build it: `uv build --package {member} --no-sources --out-dir {wheel_dir}`",
        )
    target = own[-1]
    pins = lowest_sibling_pins(target.requires, versions)

    neutral = venv_dir.parent
    neutral.mkdir(parents=True, exist_ok=True)
    _uv("venv", "--quiet", *(["--python", python] if python else []), str(venv_dir), cwd=neutral)
    interpreter = venv_dir / "bin" / "python"
    chosen = [target.path] + [
        next(w.path for w in wheels if w.name == name and w.version == version)
        for name, version in pins.items()
    ]
    # Our wheels first, from the files themselves (never an index that may hold the same name)...
    _uv("pip", "install", "--python", str(interpreter), "--no-deps", *map(str, chosen), cwd=neutral)
    # ...then their third-party dependencies; the installed members already satisfy their pins.
    # With its `local` extra, if any: the Spark + Delta a Databricks runtime would provide.
    local = "[local]" if LOCAL_EXTRA in target.extras else ""
    pinned = [f"{target.name}{local}=={target.version}"] + [f"{n}=={v}" for n, v in pins.items()]
    extra = ["--constraint", str(constraints)] if constraints else []
    install = ("pip", "install", "--python", str(interpreter), "--find-links", str(wheel_dir))
    _uv_cache_first(*install, *extra, *pinned, cwd=neutral)
    _uv("pip", "check", "--python", str(interpreter), cwd=neutral)
    listed = _uv("pip", "list", "--python", str(interpreter), "--format", "json", cwd=neutral)
    installed: dict[str, str] = {
        str(canonicalize_name(p["name"])): str(p["version"]) for p in json.loads(listed)
    }
    for name, version in {target.name: target.version, **pins}.items():
        if Version(installed.get(str(canonicalize_name(name)), "0")) != version:
            raise ReleaseError(
                f"{name} {version} was asked for but {installed.get(name)} got installed.",
                "check no index serves a package of the same name",
            )
    seed_environment(venv_dir)  # compiled bytecode to reuse, where the noxfile names a store
    done = subprocess.run(
        [str(interpreter), "-c", IMPORT_EVERY_MODULE, target.import_name],
        cwd=neutral,
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    if done.returncode != 0:
        raise ReleaseError(
            f"{target.name} {target.version} does not import outside the workspace "
            f"(siblings: {_describe(pins)}):\n{done.stderr.strip()[-3000:]}",
            "declare every dependency it imports in its pyproject.toml, with a range its "
            "lowest allowed versions satisfy",
        )
    return SmokeResult(target.name, target.version, pins, installed, done.stdout.strip())


def _describe(pins: Mapping[str, Version]) -> str:
    return ", ".join(f"{n}=={v}" for n, v in pins.items()) or "none"


def _clean_env() -> dict[str, str]:
    """The environment without anything pointing Python at the workspace."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _uv_cache_first(*args: str, cwd: Path) -> str:
    """``uv`` from its cache alone (``--offline``) when it holds every file, else from the index.

    A registry file never changes once published, but uv reuses a cached download (and the wheel
    it built from a source distribution) only while the index's HTTP cache headers call it fresh.
    Behind an index or proxy that sends none, every ``uv pip install`` downloads pyspark's 455 MB
    sdist again and rebuilds it: about 40 s for each member whose closure holds pyspark. Offline,
    uv takes what it has; whatever it lacks fails the offline attempt before anything is
    installed, and the online run that follows fetches it."""
    try:
        return _uv(*args, "--offline", cwd=cwd)
    except ReleaseError:
        return _uv(*args, cwd=cwd)


def _uv(*args: str, cwd: Path) -> str:
    command = ["uv", *args]
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env=_clean_env()
    )
    if done.returncode != 0:
        raise ReleaseError(
            f"`{' '.join(command)}` failed:\n{(done.stderr or done.stdout).strip()[-3000:]}",
            "see the uv output above",
        )
    return done.stdout
