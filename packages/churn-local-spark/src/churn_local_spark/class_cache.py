"""Faster local Spark starts: the Delta jars on the driver's class path, and a JVM class-data
sharing (CDS) archive of the classes a churn driver loads.

A local driver spends most of its start and of its first Delta write loading and verifying
classes (about 25 s on 2 cores). A JDK 13+ JVM can instead map the classes it archived on an
earlier run (dynamic archives: ``-XX:ArchiveClassesAtExit`` writes one at exit,
``-XX:SharedArchiveFile`` maps it). Only classes of the JVM's own class path are archived, so the
Delta jars, resolved once by Ivy from ``spark.jars.packages``, go on ``spark.driver.extraClassPath``
from the second start on (which also skips Ivy's resolution).

The life of the cache (a user-level directory, like Ivy's ``~/.ivy2``):

1. no jar list yet: Spark starts with ``spark.jars.packages``; the jars Ivy resolved are saved.
2. a jar list, no archive: this driver records, ``-XX:ArchiveClassesAtExit=<name>.<pid>.partial``.
   At interpreter exit Spark is stopped, the JVM is given time to write the archive, and it is
   promoted (``os.replace``) only if the JVM exited cleanly: a half-written archive crashes the JVM
   that maps it, so a partial file is never used.
3. an archive: ``-XX:SharedArchiveFile``. If the JVM cannot start with it, ``local_spark`` deletes
   it and starts again without.

A ``local-cluster`` driver follows the same plan, and its executor JVMs (same machine, same Spark
class path) get the jars from the same files and map the archive (``map_options``); they never
record one.

The archive's name hashes what it must match (the Java runtime, pyspark, the jars, their sizes and
mtimes); the JVM checks the class path itself too and maps nothing on a mismatch.
``CHURN_JVM_CACHE=off`` turns all of this off; ``CHURN_JVM_CACHE=<dir>`` moves the cache.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

ENV = "CHURN_JVM_CACHE"
#: Quiet: the JVM warns about every class it cannot archive (hundreds of lines on the first run).
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"
#: How long interpreter exit waits for the JVM to write the archive (about 20 s on 2 cores).
WRITE_TIMEOUT_SECONDS = 300
#: Archives kept (one per Python environment that records one), newest used first.
KEEP_ARCHIVES = 3


@dataclass(frozen=True)
class StartPlan:
    """How to start this driver: its class path and JVM options (both may be empty)."""

    class_path: tuple[str, ...] = ()
    java_options: str = ""
    archive: Path | None = None  # mapped
    recording: Path | None = None  # written at exit (partial)


def cache_dir() -> Path | None:
    """The cache directory, or None when ``CHURN_JVM_CACHE=off``."""
    value = os.environ.get(ENV, "")
    if value.lower() in ("off", "0", "false", "no"):
        return None
    if value:
        return Path(value)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "churn-local-spark"


def plan_start(directory: Path | None) -> StartPlan:
    """What this start can use from the cache (nothing when there is no cache or no jar list)."""
    if directory is None:
        return StartPlan()
    jars = _saved_jars(directory)
    if jars is None:
        return StartPlan()
    name = _archive_name(jars)
    archive = directory / f"{name}.jsa"
    _remove_stale_partials(directory)
    if archive.is_file():
        os.utime(archive)  # recently used: kept by _prune
        return StartPlan(jars, map_options(archive), archive=archive)
    _prune(directory)
    partial = directory / f"{name}.{os.getpid()}.partial"
    return StartPlan(jars, f"-XX:ArchiveClassesAtExit={partial} {QUIET}", recording=partial)


def map_options(archive: Path) -> str:
    """The JVM options that map ``archive``. A JVM that cannot map it dies writing a crash report:
    that goes to the archive's directory, out of the cwd."""
    crash = archive.parent / "hs_err_pid%p.log"
    return f"-XX:SharedArchiveFile={archive} -XX:ErrorFile={crash} {QUIET}"


def state(directory: Path | None) -> str:
    """What the next start would do, without touching the cache: ``off``, ``resolve jars``
    (Ivy), ``record`` (an archive) or ``map`` (the archive)."""
    if directory is None:
        return "off"
    jars = _saved_jars(directory)
    if jars is None:
        return "resolve jars"
    return "map" if (directory / f"{_archive_name(jars)}.jsa").is_file() else "record"


def save_jars(directory: Path | None, spark_jars: str | None) -> None:
    """Remember the jar files Ivy resolved (``spark.jars``: comma-separated file URIs)."""
    if directory is None or not spark_jars:
        return
    paths = [unquote(urlparse(uri).path) if "://" in uri else uri for uri in spark_jars.split(",")]
    if not paths or not all(Path(p).is_file() for p in paths):
        return
    directory.mkdir(parents=True, exist_ok=True)
    target = _jars_file(directory)
    hidden = target.with_name(f".{target.name}.{os.getpid()}")
    hidden.write_text("\n".join(paths) + "\n", encoding="utf-8")
    os.replace(hidden, target)


def forget_archive(plan: StartPlan) -> None:
    """The JVM would not start with ``plan.archive``: drop it (the next start records anew)."""
    if plan.archive is not None:
        plan.archive.unlink(missing_ok=True)


def promote_at_exit(plan: StartPlan) -> None:
    """Register the exit hook that lets the recording JVM finish and promotes its archive."""
    if plan.recording is not None:
        atexit.register(_finish_recording, plan.recording)


def warm(directory: Path | None = None) -> Path | None:
    """Make sure the cache holds an archive: start a driver in a child process (one that only
    resolves the jars with Ivy first if needed, then a recording run of a small Delta +
    Python-worker workload) until one is promoted. Returns the archive (None when the cache is
    off). Run it once ahead of many drivers (several jobs at once), so none of them pays for the
    recording."""
    import subprocess

    directory = directory or cache_dir()
    if directory is None:
        return None
    env = {**os.environ, ENV: str(directory)}
    for _ in range(2):
        plan = plan_start(directory)
        if plan.archive is not None:
            return plan.archive
        # no jar list yet (no class path): this start only resolves them, it cannot record
        child = "--workload" if plan.class_path else "--resolve-jars"
        subprocess.run([sys.executable, "-m", "churn_local_spark.warm", child], env=env, check=True)
    return plan_start(directory).archive


def _finish_recording(partial: Path) -> None:
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    process = getattr(gateway, "proc", None)
    if SparkContext._active_spark_context is not None:
        SparkContext._active_spark_context.stop()
    if process is None or process.stdin is None:
        return
    print(
        "churn-local-spark: saving the JVM class cache for faster Spark starts (once, ~20 s)",
        file=sys.stderr,
        flush=True,
    )
    process.stdin.close()  # the gateway JVM exits when its stdin closes, writing the archive
    try:
        code = process.wait(timeout=WRITE_TIMEOUT_SECONDS)
    except Exception:  # still writing: leave it; a later start removes the partial
        return
    final = partial.with_name(partial.name.split(".", 1)[0] + ".jsa")
    if code == 0 and partial.is_file():
        os.replace(partial, final)
    else:
        partial.unlink(missing_ok=True)


def _jars_file(directory: Path) -> Path:
    from importlib.metadata import version

    return directory / f"delta-jars-{version('delta-spark')}-spark-{version('pyspark')}.txt"


def _saved_jars(directory: Path) -> tuple[str, ...] | None:
    try:
        lines = _jars_file(directory).read_text(encoding="utf-8").split()
    except OSError:
        return None
    if not lines or not all(Path(p).is_file() for p in lines):
        return None
    return tuple(lines)


def _archive_name(jars: tuple[str, ...]) -> str:
    """A hash of what the archive must match: the Java runtime, Spark's jars and ours."""
    digest = hashlib.sha256()
    java = os.environ.get("JAVA_HOME") or shutil.which("java") or "java"
    runtime = Path(java).resolve()
    digest.update(str(runtime).encode())
    files = sorted((spark_home() / "jars").glob("*.jar")) + [Path(j) for j in jars]
    for path in [runtime, *files]:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return f"spark-{digest.hexdigest()[:16]}"


def spark_home() -> Path:
    """The Spark installation the driver JVM runs from: ``$SPARK_HOME`` when set (pyspark's
    launcher takes its jars from there), else the pip pyspark's own folder. Several Python
    environments that point ``SPARK_HOME`` at one pyspark of the same version share one archive
    (CI's test sessions do)."""
    import pyspark

    return Path(os.environ.get("SPARK_HOME") or Path(pyspark.__file__).parent)


def _remove_stale_partials(directory: Path) -> None:
    """Partial archives of processes that are gone were never promoted: never map them."""
    for partial in directory.glob("*.partial"):
        try:
            pid = int(partial.name.split(".")[-2])
        except (ValueError, IndexError):
            pid = -1
        if pid != os.getpid() and not _alive(pid):
            partial.unlink(missing_ok=True)


def _prune(directory: Path) -> None:
    """About 170 MB each, one per Python environment (its pyspark's path is in the class path):
    keep the most recently used ones only."""
    used: list[tuple[float, Path]] = []
    for archive in directory.glob("*.jsa"):
        try:
            used.append((archive.stat().st_mtime, archive))
        except OSError:  # pruned by another process meanwhile
            continue
    for _, old in sorted(used, reverse=True)[KEEP_ARCHIVES - 1 :]:
        old.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
