"""The noxfile's SPARK_HOME: one hard-linked copy per content, at the same path for every
checkout whose files are links to the same uv cache."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from churn_release.linked_copy import linked_copy


def installed(root: Path, cache: Path) -> Path:
    """A package folder whose files are links to ``cache``'s, as uv installs from its cache."""
    package = root / "pyspark"
    for source in cache.rglob("*"):
        if source.is_file():
            target = package / source.relative_to(cache)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "own.cpython-311.pyc").write_bytes(str(root).encode())
    return package


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    cache = tmp_path / "uv-cache"
    (cache / "jars").mkdir(parents=True)
    (cache / "jars" / "spark-core.jar").write_bytes(b"core classes")
    (cache / "bin").mkdir()
    (cache / "bin" / "spark-class").write_text("#!/bin/sh\n")
    (cache / "bin" / "spark-class").chmod(0o755)
    return cache


def test_two_checkouts_of_the_same_files_share_one_copy_of_links(
    tmp_path: Path, cache: Path
) -> None:
    first = linked_copy(installed(tmp_path / "clone-a", cache), tmp_path / "homes")
    second = linked_copy(installed(tmp_path / "clone-b", cache), tmp_path / "homes")
    assert first == second
    assert first.parent == tmp_path / "homes"
    jar = first / "jars" / "spark-core.jar"
    assert jar.read_bytes() == b"core classes"
    assert jar.stat().st_ino == (cache / "jars" / "spark-core.jar").stat().st_ino
    assert os.access(first / "bin" / "spark-class", os.X_OK)
    assert not (first / "__pycache__").exists(), "each environment keeps its own bytecode"
    assert [p.name for p in (tmp_path / "homes").iterdir()] == [first.name], "no staging left"


def test_other_files_get_another_copy_and_only_the_last_used_are_kept(
    tmp_path: Path, cache: Path
) -> None:
    homes = tmp_path / "homes"
    old = linked_copy(installed(tmp_path / "clone-a", cache), homes, keep=1)
    (cache / "jars" / "spark-core.jar").unlink()  # a new pyspark build in uv's cache
    (cache / "jars" / "spark-core.jar").write_bytes(b"core classes, rebuilt")
    new = linked_copy(installed(tmp_path / "clone-b", cache), homes, keep=1)
    assert new != old
    assert (new / "jars" / "spark-core.jar").read_bytes() == b"core classes, rebuilt"
    assert sorted(homes.iterdir()) == [new], "the copy used before is dropped (keep=1)"


def test_where_no_link_can_be_made_the_source_itself_is_used(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = installed(tmp_path / "clone-a", cache)

    def cross_device(src: str, dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link", src)

    monkeypatch.setattr(os, "link", cross_device)
    assert linked_copy(source, tmp_path / "homes") == source
    assert list((tmp_path / "homes").iterdir()) == [], "no half copy left behind"
