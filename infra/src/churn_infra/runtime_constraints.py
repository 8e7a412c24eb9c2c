"""What a Databricks runtime already has, and whether a task's wheels would disturb it.

A runtime file (``infra/runtimes/<name>.txt``) is a pip constraints file of the runtime's
preinstalled versions, plus ``#!`` directives pip ignores:

- ``#! spark_version: <key>``: the cluster ``spark_version`` the file describes;
- ``#! provided: <names>``: part of the runtime but not as a pip distribution (pyspark since
  DBR 12.2, Delta Lake always): any requirement on them makes pip install the open-source
  package over the runtime's;
- ``#! unverified: <names>``: preinstalled, version not recorded in the file (pip keeps the
  runtime's copy only if it satisfies our range).

``violations`` checks the requirements of the wheels one task attaches against it: a provided
package required outright, or a range the pinned version does not satisfy (pip would replace
the runtime's package, or the floor is unsatisfiable there), or a package the file does not
classify at all.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version


@dataclass(frozen=True)
class Runtime:
    name: str
    spark_version: str
    pinned: dict[NormalizedName, Version]
    provided: frozenset[NormalizedName]
    unverified: frozenset[NormalizedName]

    def classifies(self, name: str) -> bool:
        key = canonicalize_name(name)
        return key in self.pinned or key in self.provided or key in self.unverified


def read_runtime(path: Path) -> Runtime:
    """Parse a runtime constraints file; raise ``ValueError`` naming the bad line."""
    spark_version = ""
    pinned: dict[NormalizedName, Version] = {}
    provided: set[NormalizedName] = set()
    unverified: set[NormalizedName] = set()
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if line.startswith("#!"):
            key, _, value = line[2:].partition(":")
            names = {canonicalize_name(n) for n in value.split()}
            match key.strip():
                case "spark_version":
                    spark_version = value.strip()
                case "provided":
                    provided |= names
                case "unverified":
                    unverified |= names
                case other:
                    raise ValueError(f"{path.name}:{number}: unknown directive {other!r}")
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        pins = [s for s in requirement.specifier if s.operator == "=="]
        if len(pins) != 1 or len(requirement.specifier) != 1:
            raise ValueError(f"{path.name}:{number}: expected name==version, got {line!r}")
        pinned[canonicalize_name(requirement.name)] = Version(pins[0].version)
    if not spark_version:
        raise ValueError(f"{path.name}: no '#! spark_version:' directive")
    return Runtime(path.stem, spark_version, pinned, frozenset(provided), frozenset(unverified))


def runtime_for(spark_version: str, runtimes_dir: Path) -> Runtime | None:
    """The runtime file describing this cluster ``spark_version``, if there is one."""
    for path in sorted(runtimes_dir.glob("*.txt")):
        runtime = read_runtime(path)
        if runtime.spark_version == spark_version:
            return runtime
    return None


def violations(
    requires: Iterable[Requirement], runtime: Runtime, attached: Iterable[str] = ()
) -> list[str]:
    """Why installing these requirements (no extras) on the runtime would disturb it.

    ``attached`` names the wheels the task installs itself (siblings): not checked here.
    """
    ours = {canonicalize_name(n) for n in attached}
    problems: list[str] = []
    for requirement in requires:
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # behind an extra (e.g. `local`): not installed on a cluster
        name = canonicalize_name(requirement.name)
        if name in ours:
            continue
        if name in runtime.provided:
            problems.append(
                f"{requirement}: {name} is provided by {runtime.name}; pip would install the "
                "open-source package over it (move it to the `local` extra)"
            )
        elif name in runtime.pinned:
            have = runtime.pinned[name]
            if not requirement.specifier.contains(have, prereleases=True):
                problems.append(
                    f"{requirement}: {runtime.name} has {name} {have}; pip would replace it "
                    "(set a floor the runtime satisfies, or record why an upgrade is needed)"
                )
        elif name not in runtime.unverified:
            problems.append(
                f"{requirement}: {name} is not classified in {runtime.name} (pin its "
                "preinstalled version, or list it under '#! unverified:')"
            )
    return problems


def wheel_requirements(path: Path) -> tuple[Requirement, ...]:
    """``Requires-Dist`` of a built wheel's METADATA: what pip installs with it on a cluster."""
    with zipfile.ZipFile(path) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        parsed = Parser().parsestr(archive.read(metadata).decode())
    return tuple(Requirement(line) for line in parsed.get_all("Requires-Dist") or [])
