"""Bytecode compiled once and shared by every environment that links the same source file.

uv installs a package by hard-linking its files from uv's cache, so ``mlflow/__init__.py`` is one
inode in every nox environment synced from that cache. Its compiled ``.pyc`` is the same too:
same source, same interpreter, and a header that checks the source's mtime and size, which links
share. Compiling at sync (uv's ``compile-bytecode``) did that work again in each environment: 14 s
wall and 23 s of CPU for churn-jobs' test environment, and a CI run syncs twelve of them.

A store is a flat directory of links to ``.pyc`` files, named after their source's device, inode,
mtime and size. :func:`harvest` adds an environment's bytecode to it; :func:`seed` links into a new
environment the bytecode of every source it shares with one harvested before. Whatever is left,
uv's compilation compiles as usual (it skips files whose bytecode is up to date). A source
with a different inode, or one touched since, has another key and is never seeded. Python writes
bytecode by replacing the file, never in place, so no process can change what the store holds.

Only the standard library: the noxfile imports this outside any environment.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

PYCACHE = "__pycache__"
#: names the store to environments that tests make (churn_release.wheel_smoke seeds from it)
STORE_VARIABLE = "CHURN_BYTECODE_STORE"


def seed(site_packages: Path, store: Path, unseeded: list[Path] | None = None) -> int:
    """Link the store's bytecode for each source under ``site_packages`` into its ``__pycache__``;
    return how many files were linked (existing ones are kept). ``unseeded``, if given, gets
    each source the store has no bytecode for, for the environment's interpreter (its cache tag,
    from the ``pythonX.Y`` folder above ``site_packages``): all :func:`harvest_sources` need look
    at after the environment is compiled, and, when empty, nothing is left to compile."""
    if not store.is_dir():
        if unseeded is not None:
            unseeded.extend(source for source, _ in _sources(site_packages))
        return 0
    tails: defaultdict[str, list[str]] = defaultdict(list)  # source key -> "cpython-311.pyc", ...
    for entry in os.scandir(store):
        key, _, tail = entry.name.partition(".")
        tails[key].append(tail)
    interpreter = _cache_tag(site_packages)
    linked = 0
    for source, key in _sources(site_packages):
        found = tails.get(key, [])
        if unseeded is not None and not any(tail.startswith(interpreter) for tail in found):
            unseeded.append(source)
        for tail in found:
            cache = source.parent / PYCACHE
            cache.mkdir(exist_ok=True)
            try:
                os.link(store / f"{key}.{tail}", cache / f"{source.stem}.{tail}")
            except FileExistsError:
                continue
            linked += 1
    return linked


def seed_environment(venv: Path) -> int:
    """Seed each site-packages of the virtualenv ``venv`` from the store named by
    ``STORE_VARIABLE``, if set (the noxfile sets it for test sessions); return how many files
    were linked. For environments a test makes with ``uv pip install``: their first imports then
    load the bytecode instead of compiling mlflow, pandas, scikit-learn... from source."""
    store = os.environ.get(STORE_VARIABLE)
    if not store:
        return 0
    return sum(seed(path, Path(store)) for path in venv.glob("lib/python3*/site-packages"))


def harvest(site_packages: Path, store: Path) -> int:
    """Link the bytecode of every source under ``site_packages`` into the store; return how many
    files were new to it. Safe to run from several processes at once."""
    return harvest_sources((source for source, _ in _sources(site_packages)), store)


def harvest_sources(sources: Iterable[Path], store: Path) -> int:
    """Link the bytecode (``__pycache__/<stem>.*.pyc``) of each of ``sources`` into the store;
    return how many files were new to it. Given only the sources :func:`seed` left unseeded, it
    skips what a fully seeded environment cannot add: walking all of its ``__pycache__`` folders
    cost 0.15-0.33 CPU seconds per CI environment."""
    store.mkdir(parents=True, exist_ok=True)
    by_folder: defaultdict[Path, list[Path]] = defaultdict(list)
    for source in sources:
        by_folder[source.parent / PYCACHE].append(source)
    added = 0
    for cache, in_folder in by_folder.items():
        try:
            names = os.listdir(cache)
        except FileNotFoundError:  # nothing compiled there
            continue
        stems = {source.stem: source for source in in_folder}
        for name in names:
            stem, _, tail = name.partition(".")
            if stem in stems and tail.endswith(".pyc"):
                added += _keep(cache, name, stems[stem], store)
    return added


def _keep(cache: Path, name: str, source: Path, store: Path) -> int:
    """Link ``cache/name``, the bytecode of ``source``, into the store; 1 if it was new there."""
    try:
        key = _key(source)
        os.link(cache / name, store / f"{key}.{name.partition('.')[2]}")
    except (FileNotFoundError, FileExistsError):
        return 0
    return 1


def prune(store: Path, unused_seconds: float, now: float | None = None) -> int:
    """Drop the store's bytecode that no environment links (the store's is its only link) and
    that nothing linked for ``unused_seconds`` (each link or unlink sets the file's ctime): its
    source has most likely left uv's cache, and no source will have its key again. Returns how
    many files went. A store that outlives checkouts (CI's clean clones) stays bounded so."""
    if not store.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - unused_seconds
    removed = 0
    for entry in os.scandir(store):
        try:
            stat = entry.stat(follow_symlinks=False)
            if stat.st_nlink == 1 and stat.st_ctime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:  # pruned by another process meanwhile
            continue
    return removed


def _sources(site_packages: Path) -> Iterator[tuple[Path, str]]:
    for root, dirs, files in os.walk(site_packages):
        dirs[:] = [d for d in dirs if d != PYCACHE]
        for name in files:
            if name.endswith(".py"):
                source = Path(root) / name
                try:
                    yield source, _key(source)
                except FileNotFoundError:  # a dangling link
                    continue


def _cache_tag(site_packages: Path) -> str:
    """``cpython-311.`` for ``.../lib/python3.11/site-packages``: the start of the names of the
    bytecode that interpreter reads (``sys.implementation.cache_tag``); this interpreter's for
    another layout."""
    version = site_packages.parent.name.removeprefix("python").split(".")
    if len(version) == 2 and all(part.isdigit() for part in version):
        return f"cpython-{version[0]}{version[1]}."
    return f"{sys.implementation.cache_tag}."


def _key(source: Path) -> str:
    """The source file's identity: a different file, or this one changed, has another key."""
    stat = source.stat()
    return f"{stat.st_dev}-{stat.st_ino}-{stat.st_mtime_ns}-{stat.st_size}"
