"""The noxfile's shared bytecode: a session links the .pyc of sources it shares (same inode) with
an earlier session, compiles the rest, and Python takes the linked bytecode as up to date."""

from __future__ import annotations

import compileall
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from churn_release.shared_bytecode import (
    STORE_VARIABLE,
    harvest,
    harvest_sources,
    prune,
    seed,
    seed_environment,
)

TAG = sys.implementation.cache_tag  # e.g. cpython-311


def environment(root: Path, cache: Path, names: list[str]) -> Path:
    """A site-packages whose files are links to ``cache``'s, as uv installs from its cache."""
    site = root / "site-packages"
    for name in names:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        os.link(cache / name, site / name)
    return site


def harvested_module(root: Path) -> tuple[Path, Path]:
    """A uv cache holding ``mod.py``, and a store holding its bytecode, harvested from a first
    environment that linked it."""
    cache = root / "uv-cache"
    cache.mkdir()
    (cache / "mod.py").write_text("X = 1\n")
    first = environment(root / "first", cache, ["mod.py"])
    compileall.compile_dir(first, quiet=2)
    store = root / "store"
    assert harvest(first, store) == 1
    return cache, store


def test_a_second_environment_links_the_bytecode_of_the_sources_it_shares(tmp_path: Path) -> None:
    cache = tmp_path / "uv-cache"
    (cache / "pkg").mkdir(parents=True)
    (cache / "pkg" / "__init__.py").write_text("VALUE = 41 + 1\n")
    (cache / "pkg" / "shared.py").write_text("from pkg import VALUE\nDOUBLE = 2 * VALUE\n")
    (cache / "broken.py").write_text("def broken(:\n")
    first = environment(
        tmp_path / "first", cache, ["pkg/__init__.py", "pkg/shared.py", "broken.py"]
    )
    store = tmp_path / "store"

    assert seed(first, store) == 0, "nothing to seed from an empty store"
    assert not compileall.compile_dir(first, quiet=2), "broken.py does not compile"
    assert harvest(first, store) == 2
    assert harvest(first, store) == 0, "a second harvest adds nothing"

    second = environment(tmp_path / "second", cache, ["pkg/__init__.py", "pkg/shared.py"])
    own = second / "pkg" / "own.py"  # same text as shared.py, but another file
    own.write_text((cache / "pkg" / "shared.py").read_text())
    assert seed(second, store) == 2
    linked = second / "pkg" / "__pycache__" / f"shared.{TAG}.pyc"
    harvested = first / "pkg" / "__pycache__" / f"shared.{TAG}.pyc"
    assert linked.stat().st_ino == harvested.stat().st_ino
    assert not (second / "pkg" / "__pycache__" / f"own.{TAG}.pyc").exists()

    # Python takes the linked bytecode as up to date: an import that may write bytecode
    # (PYTHONDONTWRITEBYTECODE empty) leaves it in place, and writes only own.py's
    out = subprocess.run(
        [sys.executable, "-c", "import pkg.shared, pkg.own; print(pkg.shared.DOUBLE)"],
        env={**os.environ, "PYTHONPATH": str(second), "PYTHONDONTWRITEBYTECODE": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "84"
    assert linked.stat().st_ino == harvested.stat().st_ino, "Python recompiled linked bytecode"
    assert (second / "pkg" / "__pycache__" / f"own.{TAG}.pyc").is_file()


def test_a_source_changed_since_the_harvest_is_never_seeded(tmp_path: Path) -> None:
    cache, store = harvested_module(tmp_path)
    second = environment(tmp_path / "second", cache, ["mod.py"])
    stat = (cache / "mod.py").stat()
    os.utime(cache / "mod.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # touched since
    assert seed(second, store) == 0
    assert not (second / "__pycache__").exists()


def test_a_virtualenv_is_seeded_from_the_store_the_environment_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache, store = harvested_module(tmp_path)
    venv = tmp_path / "venv"
    environment(
        venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}", cache, ["mod.py"]
    )

    monkeypatch.delenv(STORE_VARIABLE, raising=False)
    assert seed_environment(venv) == 0, "no store named: nothing linked"
    monkeypatch.setenv(STORE_VARIABLE, str(store))
    assert seed_environment(venv) == 1
    assert next(venv.glob(f"lib/python3*/site-packages/__pycache__/mod.{TAG}.pyc")).is_file()


def test_bytecode_without_its_source_is_not_harvested(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    (site / "__pycache__").mkdir(parents=True)
    (site / "__pycache__" / f"gone.{TAG}.pyc").write_bytes(b"orphan")
    assert harvest(site, tmp_path / "store") == 0


def test_prune_drops_only_bytecode_no_environment_has_linked_for_a_while(tmp_path: Path) -> None:
    cache = tmp_path / "uv-cache"
    cache.mkdir()
    for name in ("kept.py", "gone.py"):
        (cache / name).write_text(f"NAME = {name!r}\n")
    store = tmp_path / "store"
    kept_env = environment(tmp_path / "kept", cache, ["kept.py"])
    gone_env = environment(tmp_path / "gone", cache, ["gone.py"])
    for site in (kept_env, gone_env):
        assert compileall.compile_dir(site, quiet=2)
        assert harvest(site, store) == 1
    for pyc in (gone_env / "__pycache__").iterdir():
        pyc.unlink()  # its environment deleted: the store holds the only link

    assert prune(store, unused_seconds=3600) == 0, "unlinked just now: kept for a while"
    later = time.time() + 7200
    assert prune(store, unused_seconds=3600, now=later) == 1
    (left,) = store.iterdir()
    assert left.name.startswith(next(iter(_keys(kept_env)))), "the linked one stays, however old"
    assert seed(environment(tmp_path / "again", cache, ["kept.py"]), store) == 1


def _keys(site: Path) -> set[str]:
    from churn_release.shared_bytecode import _sources

    return {key for _, key in _sources(site)}


def test_after_a_seed_only_the_sources_it_left_unseeded_are_harvested(tmp_path: Path) -> None:
    cache = tmp_path / "uv-cache"
    (cache / "pkg").mkdir(parents=True)
    for name in ("a.py", "b.py"):
        (cache / "pkg" / name).write_text(f"NAME = {name!r}\n")
    store = tmp_path / "store"
    first = environment(tmp_path / "first", cache, ["pkg/a.py"])
    unseeded: list[Path] = []
    assert seed(first, store, unseeded) == 0
    assert unseeded == [first / "pkg" / "a.py"]
    assert compileall.compile_dir(first, quiet=2)
    assert harvest_sources(unseeded, store) == 1

    second = environment(tmp_path / "second", cache, ["pkg/a.py", "pkg/b.py"])
    unseeded = []
    assert seed(second, store, unseeded) == 1
    assert unseeded == [second / "pkg" / "b.py"], "a.py's bytecode came from the store"
    assert compileall.compile_dir(second, quiet=2)
    assert harvest_sources(unseeded, store) == 1
    assert harvest(second, store) == 0, "the full walk finds nothing the sources' harvest missed"
    assert len(list(store.iterdir())) == 2


def test_a_source_is_seeded_only_by_bytecode_of_the_environments_interpreter(
    tmp_path: Path,
) -> None:
    """The noxfile compiles nothing when ``seed`` leaves nothing unseeded: a source whose stored
    bytecode is another Python's must still count as unseeded."""
    cache, store = harvested_module(tmp_path)
    (stored,) = store.iterdir()
    assert stored.name.endswith(f".{TAG}.pyc")

    this_python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    same = environment(tmp_path / "same" / "lib" / this_python, cache, ["mod.py"])
    unseeded: list[Path] = []
    assert seed(same, store, unseeded) == 1
    assert unseeded == [], "its bytecode is there: nothing left to compile"

    other = environment(tmp_path / "other" / "lib" / "python3.99", cache, ["mod.py"])
    unseeded = []
    seed(other, store, unseeded)
    assert unseeded == [other / "mod.py"], "python3.99 reads cpython-399 bytecode, not this"
