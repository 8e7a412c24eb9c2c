"""Which catalog a session gets, in a process that already built sessions of the other kind."""

from __future__ import annotations

from pathlib import Path

from churn_local_spark import local_spark


def test_an_in_memory_session_after_a_hive_one_is_in_memory(tmp_path: Path) -> None:
    """pyspark's builder keeps every earlier build's options in the process: a session asked for
    without a metastore after one with it must not silently get Hive again."""
    hive = local_spark(
        "catalog-test-hive", warehouse_dir=tmp_path / "wh1", metastore_dir=tmp_path / "metastore"
    )
    assert hive.conf.get("spark.sql.catalogImplementation") == "hive"
    hive.stop()

    plain = local_spark("catalog-test-plain", warehouse_dir=tmp_path / "wh2")
    try:
        assert plain.conf.get("spark.sql.catalogImplementation") == "in-memory"
        plain.sql("CREATE DATABASE scratch")
        assert not (tmp_path / "metastore").exists(), "the catalog touched no Derby database"
    finally:
        plain.stop()
