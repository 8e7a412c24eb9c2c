"""Wheels built once per content: build once, deploy many.

A release's content hash (``churn_infra.release.content_hash``) covers every file the shipped
members' wheels are built from. Their wheels, once built, are kept under
``<cache>/<content hash>/`` with a ``SHA256SUMS`` manifest; a later build of the same content
(deploying dev, then staging, then prod from one tree, or a deploy after a failed one) copies
them instead of building again, so every environment gets the very bytes the first one got.

An entry is written whole or not at all (a temporary folder renamed into place), and used only
if every wheel matches its manifest line; anything else is dropped and built again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

MANIFEST = "SHA256SUMS"
#: entries kept; the oldest (by last use) go first. A release's wheels are a few hundred kB.
KEEP = 10


def cache_dir(home: Path | None = None) -> Path:
    """``$CHURN_HOME/wheels`` (beside the local stores: generated, never committed)."""
    from churn_jobs.local_platform import churn_home

    return churn_home(home) / "wheels"


def cached_wheels(cache: Path, content_hash: str, wheel_files: Sequence[str]) -> Path | None:
    """The folder holding ``wheel_files`` for ``content_hash``, if a sound entry exists."""
    entry = cache / content_hash
    try:
        lines = (entry / MANIFEST).read_text(encoding="utf-8").splitlines()
    except OSError:  # none yet; or a folder without its manifest, which no store leaves: drop it
        shutil.rmtree(entry, ignore_errors=True)
        return None
    listed = {}
    for line in lines:  # "<sha256>  <file name>", as sha256sum writes it
        digest, _, name = line.partition("  ")
        listed[name] = digest
    try:
        sound = all(
            name in listed and (entry / name).is_file() and _sha256(entry / name) == listed[name]
            for name in wheel_files
        )
        if sound:
            entry.touch()  # last use, for pruning
            return entry
    except OSError:  # unreadable: as good as absent
        pass
    shutil.rmtree(entry, ignore_errors=True)
    return None


def store_wheels(cache: Path, content_hash: str, wheels: Sequence[Path]) -> None:
    """Keep ``wheels`` as the entry of ``content_hash`` (an existing sound entry is left as is).
    Raises OSError if the cache cannot be written (``build_release`` then builds without it)."""
    cache.mkdir(parents=True, exist_ok=True)
    entry = cache / content_hash
    staging = cache / f".{content_hash}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    manifest = []
    for wheel in wheels:
        shutil.copy2(wheel, staging / wheel.name)
        manifest.append(f"{_sha256(staging / wheel.name)}  {wheel.name}\n")
    (staging / MANIFEST).write_text("".join(manifest), encoding="utf-8")
    if cached_wheels(cache, content_hash, [w.name for w in wheels]) is None:  # drops a broken one
        with contextlib.suppress(OSError):  # another build stored its entry meanwhile: keep it
            staging.rename(entry)
    shutil.rmtree(staging, ignore_errors=True)
    _prune(cache)


def _prune(cache: Path) -> None:
    """Keep the ``KEEP`` entries used last; drop staging folders of builds gone for an hour."""
    folders = [p for p in cache.iterdir() if p.is_dir()]
    entries = sorted(
        (p for p in folders if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    stale = [
        p for p in folders if p.name.startswith(".") and time.time() - p.stat().st_mtime > 3600
    ]
    for old in entries[KEEP:] + stale:
        shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
