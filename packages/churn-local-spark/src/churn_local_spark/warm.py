"""``python -m churn_local_spark.warm``: fill the JVM class cache (see ``class_cache``).

Run with no argument, it warms the cache: up to two child drivers. One that only starts and
stops Spark (``--resolve-jars``), while the cache has no jar list yet: Ivy resolves the Delta jars
and ``local_spark`` saves them, and no archive can be recorded on that start (the jars are not yet
on the class path). Then one that records, running ``workload`` (``--workload``): a small job
touching the classes churn jobs load (a Hive metastore; Delta create, append, merge, time travel;
a join and an aggregate; an Arrow Python worker).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any


def workload() -> None:
    from churn_local_spark import local_spark

    with tempfile.TemporaryDirectory(prefix="churn-jvm-warm-") as tmp:
        # With a Hive (Derby) metastore, as churn's local platform starts Spark: its classes
        # (Hive client, Derby, DataNucleus) are a large part of what a job's driver loads.
        spark = local_spark(
            "churn-jvm-warm", warehouse_dir=f"{tmp}/warehouse", metastore_dir=f"{tmp}/metastore_db"
        )
        spark.sql("CREATE DATABASE IF NOT EXISTS warm")
        spark.range(100).selectExpr("id", "id % 7 AS k", "CAST(id AS STRING) AS s").write.format(
            "delta"
        ).saveAsTable("warm.t")
        spark.range(50, 150).selectExpr("id", "id % 5 AS k", "'x' AS s").createOrReplaceTempView(
            "updates"
        )
        spark.sql(
            "MERGE INTO warm.t t USING updates u ON t.id = u.id "
            "WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
        )
        spark.sql("SELECT * FROM warm.t VERSION AS OF 0").join(
            spark.table("warm.t").groupBy("k").count(), "k"
        ).collect()
        if _arrow_workers_available():
            spark.table("warm.t").mapInArrow(_same, spark.table("warm.t").schema).count()
        spark.stop()


def resolve_jars() -> None:
    """Start a driver and stop it: its Ivy resolution is what the cache needs of it."""
    from churn_local_spark import local_spark

    with tempfile.TemporaryDirectory(prefix="churn-jvm-resolve-") as tmp:
        local_spark("churn-jvm-resolve", warehouse_dir=f"{tmp}/warehouse").stop()


def _arrow_workers_available() -> bool:
    """Arrow Python workers need pandas and pyarrow, which this package does not require (the
    jobs' environments have them): without them the archive just lacks those classes."""
    from importlib.util import find_spec

    return find_spec("pandas") is not None and find_spec("pyarrow") is not None


def _same(batches: Iterable[Any]) -> Iterator[Any]:
    yield from batches


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--workload"]:
        workload()
        return 0
    if args == ["--resolve-jars"]:
        resolve_jars()
        return 0
    from churn_local_spark.class_cache import warm

    archive = warm()
    print(f"JVM class archive: {archive or 'off (CHURN_JVM_CACHE=off)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
