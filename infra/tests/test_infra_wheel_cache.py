"""Wheels are built once per content: a later build of the same sources copies them."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from churn_infra.release import Release, build_release, predict_release
from churn_infra.wheel_cache import MANIFEST, cache_dir, cached_wheels, store_wheels


def _entry(cache: Path, release: Release, contents: dict[str, bytes], manifest: str) -> Path:
    entry = cache / release.content_hash
    entry.mkdir(parents=True)
    for name, data in contents.items():
        (entry / name).write_bytes(data)
    (entry / MANIFEST).write_text(manifest)
    return entry


def test_a_sound_entry_of_the_same_content_is_copied_instead_of_built(
    repo_root: Path, built_release: Release, tmp_path: Path
) -> None:
    named = predict_release(repo_root, built_release.git)
    assert named.content_hash == built_release.content_hash
    # an entry whose bytes no build would produce: seeing them proves no build ran
    marked = {name: f"kept for {name}".encode() for name in named.wheel_files}
    manifest = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in marked.items())
    cache = tmp_path / "cache"
    _entry(cache, named, marked, manifest)

    release = build_release(repo_root, tmp_path / "out", named.git, cache=cache)

    assert release.reused_wheels
    assert release.content_hash == named.content_hash
    for name, data in marked.items():
        assert (tmp_path / "out" / name).read_bytes() == data


def test_a_build_is_kept_and_a_damaged_entry_is_dropped(
    built_release: Release, churn_home: Path, tmp_path: Path
) -> None:
    # the session's build (the built_release fixture) is in the session's cache, byte for byte
    names = built_release.wheel_files
    assert built_release.wheel_dir is not None
    entry = cached_wheels(cache_dir(churn_home), built_release.content_hash, names)
    assert entry is not None
    for name in names:
        assert (entry / name).read_bytes() == (built_release.wheel_dir / name).read_bytes()

    # a copy whose manifest names every wheel, one of them cut short after it was written
    cache = tmp_path / "cache"
    damaged = cache / built_release.content_hash
    shutil.copytree(entry, damaged)
    data = (damaged / names[0]).read_bytes()
    (damaged / names[0]).write_bytes(data[: len(data) // 2])

    assert cached_wheels(cache, built_release.content_hash, names) is None
    assert not damaged.exists(), "dropped, so that the next build stores a sound one"


def test_only_the_most_recently_used_entries_are_kept(tmp_path: Path) -> None:
    import os

    from churn_infra import wheel_cache

    cache = tmp_path / "cache"
    wheel = tmp_path / "a-1-py3-none-any.whl"
    wheel.write_bytes(b"PK wheel")
    for i in range(wheel_cache.KEEP):
        store_wheels(cache, f"hash{i:02d}", [wheel])
        os.utime(cache / f"hash{i:02d}", (1_000_000 + i, 1_000_000 + i))
    assert cached_wheels(cache, "hash00", [wheel.name]) is not None  # used now

    store_wheels(cache, "newest", [wheel])

    kept = {p.name for p in cache.iterdir()}
    assert len(kept) == wheel_cache.KEEP
    assert {"hash00", "newest"} <= kept
    assert "hash01" not in kept, "the entry used longest ago went"


def test_a_cache_that_cannot_be_written_raises_os_error_for_the_build_to_ignore(
    tmp_path: Path,
) -> None:
    wheel = tmp_path / "a-1-py3-none-any.whl"
    wheel.write_bytes(b"PK wheel")
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache should be")
    with pytest.raises(OSError, match="File exists"):
        store_wheels(not_a_folder, "hash", [wheel])
    assert cached_wheels(not_a_folder, "hash", [wheel.name]) is None
