"""Small Python-UDF jobs with pyspark's own worker daemon and with churn-local-spark's.

``local_spark`` runs its Python workers through ``churn_local_spark.worker_daemon``, which imports
pyspark and py4j from the installed packages rather than from the zips Spark puts first on the
workers' path (whose directory every task re-reads). Each arm is a fresh process (its own JVM)
that runs ``--jobs`` two-partition ``mapInArrow`` jobs over 7,000 rows, after one untimed job
that starts the daemon; arms alternate which goes first, and the report gives each round's
ratio of churn's daemon to pyspark's.

    uv run python benchmarks/python_workers.py --rounds 3 --out python_workers.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _child import add_child_argument, report, run_child
from _report import emit

#: each arm's ``spark.python.daemon.module`` ("" keeps ``local_spark``'s own)
ARMS = {"pyspark_daemon": "pyspark.daemon", "churn_daemon": ""}


def _same(batches: Any) -> Any:
    yield from batches


def child(arm: str, jobs: int) -> None:
    from churn_local_spark import local_spark

    conf = {"spark.python.daemon.module": ARMS[arm]} if ARMS[arm] else {}
    with tempfile.TemporaryDirectory(prefix="churn-bench-workers-") as tmp:
        spark = local_spark(f"bench-{arm}", warehouse_dir=tmp, conf=conf)
        rows = spark.range(7000).repartition(2).cache()
        rows.count()
        rows.mapInArrow(_same, rows.schema).count()  # starts the daemon and two workers
        started = time.perf_counter()
        for _ in range(jobs):
            rows.mapInArrow(_same, rows.schema).count()
        seconds = time.perf_counter() - started
        spark.stop()
    report({"seconds": round(seconds, 3)})


def run_arm(arm: str, jobs: int) -> float:
    return float(run_child(__file__, arm, "--jobs", str(jobs))["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=20, help="timed jobs per arm and round")
    add_child_argument(parser, ARMS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.jobs)
        return 0
    seconds: dict[str, list[float]] = {arm: [] for arm in ARMS}
    for round_ in range(args.rounds):
        order = list(ARMS) if round_ % 2 == 0 else list(reversed(ARMS))
        for arm in order:
            seconds[arm].append(run_arm(arm, args.jobs))
            print(f"round {round_ + 1} {arm}: {seconds[arm][-1]} s", file=sys.stderr, flush=True)
    ratios = [
        round(ours / theirs, 3)
        for ours, theirs in zip(seconds["churn_daemon"], seconds["pyspark_daemon"], strict=True)
    ]
    emit(
        {
            "jobs_per_arm": args.jobs,
            "tasks_per_job": 2,
            "cpus": os.cpu_count(),
            "seconds": seconds,
            "churn_over_pyspark_per_round": ratios,
            "median_ratio": statistics.median(ratios),
        },
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
