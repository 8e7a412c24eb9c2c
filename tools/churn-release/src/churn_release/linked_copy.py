"""A hard-linked copy of a folder at a path named after what it holds.

For what is keyed by a path rather than by content. CI's Spark sessions run from one
environment's pyspark (``SPARK_HOME``), and churn-local-spark names the JVM class archive after
its class path: a clean clone at a new place (a temporary CI folder, a second worktree) holds the
same jars at another path, so it recorded a new archive, about 50 s before any Spark session
could start on 2 cores. A copy under a cache folder, named after the files' names, sizes and
mtimes, has the same path in every checkout synced from the same uv cache (uv hard-links
installed files from its cache, so they share mtimes), and costs no disk: its files are links.

Only the standard library: the noxfile imports this outside any environment.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

#: never copied, nor part of the name: each environment compiles (or links) its own bytecode
SKIPPED = "__pycache__"
#: a staging folder older than this is from a copy that died half way
STALE_STAGING_SECONDS = 3600


def content_name(source: Path) -> str:
    """A name for what ``source`` holds: every file's relative path, size and mtime."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if d != SKIPPED)
        for name in sorted(files):
            path = Path(folder, name)
            stat = path.lstat()
            relative = path.relative_to(source).as_posix()
            digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return f"{source.name}-{digest.hexdigest()[:16]}"


def linked_copy(source: Path, root: Path, keep: int = 3) -> Path:
    """The copy of ``source`` under ``root`` named after its content, made if missing (files
    hard-linked, written to a staging folder and renamed into place, so that a copy is whole
    or absent). Marks it used and keeps the ``keep`` copies used last. Returns ``source`` itself
    where links cannot be made (``root`` on another file system)."""
    name = content_name(source)
    target = root / name
    if not target.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        staging = root / f".{name}.{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            shutil.copytree(
                source,
                staging,
                symlinks=True,
                ignore=shutil.ignore_patterns(SKIPPED),
                copy_function=os.link,
            )
            staging.rename(target)
        except OSError:  # no links here, or another process renamed its copy first
            shutil.rmtree(staging, ignore_errors=True)
            if not target.is_dir():
                return source
    os.utime(target)
    _prune(root, keep, target)
    return target


def _prune(root: Path, keep: int, used: Path) -> None:
    """Drop all but the ``keep`` copies used last (never ``used``), and dead staging folders.
    A folder another process removes meanwhile is skipped: pruning never fails a caller."""

    def used_at(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    folders = [p for p in root.iterdir() if p.is_dir()]
    copies = sorted((p for p in folders if not p.name.startswith(".")), key=used_at, reverse=True)
    for old in copies[keep:]:
        if old != used:
            shutil.rmtree(old, ignore_errors=True)
    for staging in (p for p in folders if p.name.startswith(".")):
        if time.time() - used_at(staging) > STALE_STAGING_SECONDS:
            shutil.rmtree(staging, ignore_errors=True)
