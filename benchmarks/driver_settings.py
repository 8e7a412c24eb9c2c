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
- ``codegen_stages_only``: whole-stage code on, expressions interpreted;
- ``local_log_store``: Delta's ``LocalLogStore`` for ``file:`` paths. Its default there,
  ``HDFSLogStore``, renames through Hadoop's ``FileContext``, which starts a ``readlink``
  process for each link-status read (no Hadoop native library in pip's pyspark): eight per
  commit, 2,816 in one ``bash .ci/run`` (process accounting). Alone, an append commit of 100 rows
  took about 105-126 ms instead of 132-148 ms. (Delta's own docstring calls ``LocalLogStore``
  "for testing only"; on a local disk both stores check, then rename);
- ``simple_ui_plans``: the listeners' plan text as plain ``explain()`` output rather than the
  ``formatted`` default, which walks each plan again (12 of 201 driver-thread samples in a
  Java Flight Recording of four refreshes);
- ``both_stop42``: the last two together (``--arms default both_stop42``). Stop 42, three
  rounds of four refreshes: 44.8 and 44.0 s, JVM CPU 57.7 and 57.1 s (round 1 also recorded the
  class archive: 51.1 s), against ``default``'s 40.2, 40.6 and 44.6 s, JVM CPU 51.2, 51.7 and
  57.1 s. No gain a refresh shows, so neither is a default.

``jvm_cpu`` is the driver JVM's user + system CPU over the run (``/proc``): on 2 cores, where CI
runs two sessions side by side, CPU rather than one run's wall time decides what a setting buys.

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

LOCAL_LOG_STORE = {"spark.delta.logStore.file.impl": "io.delta.storage.LocalLogStore"}
SIMPLE_UI_PLANS = {"spark.sql.ui.explainMode": "simple"}

ARMS: dict[str, dict[str, Any]] = {
    "default": {},
    "delta_stats": {"sql": DELTA_STATS_ON},
    "codegen": {"sql": {**CODEGEN_ON, **DELTA_STATS_ON}},
    "c1_only": {"env": {"JDK_JAVA_OPTIONS": "-XX:TieredStopAtLevel=1"}},
    "codegen_stages_only": {"sql": {"spark.sql.codegen.wholeStage": "true"}},
    # start-up settings ("conf"), read once when the JVM starts
    "local_log_store": {"conf": LOCAL_LOG_STORE},
    "simple_ui_plans": {"conf": SIMPLE_UI_PLANS},
    "both_stop42": {"conf": {**LOCAL_LOG_STORE, **SIMPLE_UI_PLANS}},
}
#: What ``nox -s bench`` runs: stop 42's candidates only when asked for (``--arms``), as they
#: showed no gain and each arm adds about 45 s a round.
DEFAULT_ARMS = ["default", "delta_stats", "codegen", "c1_only", "codegen_stages_only"]


def child(arm: str, refreshes: int) -> None:
    """One arm in this process: start Spark, apply the arm's SQL settings, time each refresh."""
    from churn_features.refresh import RefreshTables, refresh_feature_tables
    from churn_features.store.delta import DeltaFeatureStore
    from churn_jobs.local_platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="churn-bench-driver-") as tmp:
        started = time.perf_counter()
        spark = LocalPlatform(Path(tmp)).spark(
            master="local[2]", app_name=f"bench-{arm}", conf=ARMS[arm].get("conf")
        )
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
        jvm_cpu = _jvm_cpu_seconds(spark)
        spark.stop()
    report(
        {
            "rows": rows,
            "spark_start": round(start_seconds, 2),
            "refreshes": seconds,
            "jvm_cpu": jvm_cpu,
        }
    )


def _jvm_cpu_seconds(spark: Any) -> float:
    """User + system CPU seconds of the driver JVM so far."""
    import psutil

    times = psutil.Process(
        spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    ).cpu_times()
    return round(times.user + times.system, 1)


def run_arm(arm: str, refreshes: int) -> dict[str, Any]:
    env = {**os.environ, **ARMS[arm].get("env", {})}
    result = run_child(__file__, arm, "--refreshes", str(refreshes), env=env)
    result["total"] = round(sum(result["refreshes"]), 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--refreshes", type=int, default=4, help="per arm and round")
    parser.add_argument("--arms", nargs="+", choices=sorted(ARMS), default=DEFAULT_ARMS)
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
                "jvm_cpu": [r["jvm_cpu"] for r in results],
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
