"""Candidate settings of the local driver, side by side: feature-table refreshes in fresh JVMs.

On 2 cores a local refresh of 7,043 rows is CPU-bound in the driver JVM, and most of that CPU is
the JIT compiler (a Java Flight Recording of five refreshes: 54,555 compilations, 2 min 12 s of
compiler-thread time in a 2-minute JVM). Settings that trade compiled speed for less compiling
are candidates, to measure, not to assume:

- ``default``: the driver as churn-local-spark starts it (interpreted expressions, no
  whole-stage code generation: ``CODEGEN_OFF``; no Delta file statistics: ``DELTA_STATS_OFF``);
- ``delta_stats``: the same with Delta's per-file statistics collected (``DELTA_STATS_ON``);
- ``codegen``: Spark's and Delta's own defaults (``CODEGEN_ON``: Janino-compiled stage and
  expression code; ``DELTA_STATS_ON``);
- ``c1_only``: ``-XX:TieredStopAtLevel=1`` (no C2: cheap compiles, slower code);
- ``codegen_stages_only``: whole-stage code on, expressions interpreted.

Each arm is a fresh process (its own JVM) that runs ``--refreshes`` refreshes of the vendored data
(the first creates the tables, the others are reruns); arms rotate their order each round, and
the report gives each arm's total per round and its median ratio to ``default`` in the same round.

    uv run python benchmarks/driver_settings.py --rounds 3 --out driver_settings.json
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

from churn_local_spark import CODEGEN_ON, DELTA_STATS_ON

ARMS: dict[str, dict[str, Any]] = {
    "default": {},
    "delta_stats": {"sql": DELTA_STATS_ON},
    "codegen": {"sql": {**CODEGEN_ON, **DELTA_STATS_ON}},
    "c1_only": {"env": {"JDK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1"}},
    "codegen_stages_only": {"sql": {"spark.sql.codegen.wholeStage": "true"}},
}


def child(arm: str, refreshes: int) -> None:
    """One arm in this process: start Spark, apply the arm's SQL settings, time each refresh."""
    from churn_features.refresh import RefreshTables, refresh_feature_tables
    from churn_features.store.delta import DeltaFeatureStore
    from churn_jobs.local_platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="churn-bench-driver-") as tmp:
        started = time.perf_counter()
        spark = LocalPlatform(Path(tmp)).spark(master="local[2]", app_name=f"bench-{arm}")
        start_seconds = time.perf_counter() - started
        for key, value in ARMS[arm].get("sql", {}).items():
            spark.conf.set(key, value)
        store = DeltaFeatureStore(spark)
        tables = RefreshTables(
            *(f"bench.{t}" for t in ("bronze", "quarantine", "features", "labels", "reference"))
        )
        seconds, rows = [], 0
        for _ in range(refreshes):
            t0 = time.perf_counter()
            rows = refresh_feature_tables(spark, store, tables).report.rows_read
            seconds.append(round(time.perf_counter() - t0, 2))
        spark.stop()
    report({"rows": rows, "spark_start": round(start_seconds, 2), "refreshes": seconds})


def run_arm(arm: str, refreshes: int) -> dict[str, Any]:
    env = {**os.environ, **ARMS[arm].get("env", {})}
    result = run_child(__file__, arm, "--refreshes", str(refreshes), env=env)
    result["total"] = round(sum(result["refreshes"]), 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--refreshes", type=int, default=4, help="per arm and round")
    parser.add_argument("--arms", nargs="+", choices=sorted(ARMS), default=list(ARMS))
    add_child_argument(parser, ARMS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.refreshes)
        return 0
    arms = ["default", *(a for a in args.arms if a != "default")]
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for round_ in range(args.rounds):
        shift = round_ % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            runs[arm].append(run_arm(arm, args.refreshes))
            print(f"round {round_ + 1} {arm:>15}: {runs[arm][-1]}", file=sys.stderr, flush=True)
    report: dict[str, Any] = {
        "rows": runs["default"][0]["rows"],
        "refreshes_per_run": args.refreshes,
        "cpus": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "arms": {
            arm: {
                "totals": [r["total"] for r in results],
                "median_total": statistics.median(r["total"] for r in results),
                "median_first_refresh": statistics.median(r["refreshes"][0] for r in results),
                "median_spark_start": statistics.median(r["spark_start"] for r in results),
                **(
                    {}
                    if arm == "default"
                    else {
                        # paired within each round: the two ran minutes apart, not hours
                        "over_default_per_round": [
                            round(r["total"] / d["total"], 3)
                            for r, d in zip(results, runs["default"], strict=True)
                        ],
                        "median_over_default": statistics.median(
                            r["total"] / d["total"]
                            for r, d in zip(results, runs["default"], strict=True)
                        ),
                    }
                ),
            }
            for arm, results in runs.items()
        },
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
