"""The refresh's table writes, concurrent against one after another, paired in one JVM.

Runs ``refresh_feature_tables`` on the vendored 7,043 rows with ``concurrent_writes=True`` and
``False``, alternating which goes first, in one Spark ``local[2]`` session, and times the step that
writes the five tables (from the refresh's own ``on_step`` marks). Each round refreshes two new
sets of tables ("new tables": the first refresh, as `churn demo` starts) and then refreshes each
set again ("rerun": the tables exist, the MERGE changes nothing). Both modes' tables are checked
equal before anything is timed.

    uv run python benchmarks/refresh_writes.py --rounds 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _paired import step_result
from _report import emit

KINDS = ("bronze", "quarantine", "features", "labels", "reference")
MODES = {"one_by_one": False, "concurrent": True}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="paired rounds (first is warm-up)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    from pyspark.testing import assertDataFrameEqual

    from churn_features.refresh import RefreshTables, refresh_feature_tables
    from churn_features.store.delta import DeltaFeatureStore
    from churn_jobs.local_platform import LocalPlatform

    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        spark = LocalPlatform(Path(tmp)).spark(master="local[2]", app_name="bench-refresh-writes")
        store = DeltaFeatureStore(spark)
        databases = count()

        def refresh(tables: RefreshTables, concurrent: bool) -> float:
            """The seconds from the write step's start to the log step's start."""
            marks: dict[str, float] = {}

            def on_step(step: str) -> None:
                marks[step.split(" ")[0]] = time.perf_counter()

            refresh_feature_tables(
                spark, store, tables, concurrent_writes=concurrent, on_step=on_step
            )
            return marks["recording"] - marks["writing"]

        def new_tables() -> RefreshTables:
            return RefreshTables(*(f"w{next(databases)}.{kind}" for kind in KINDS))

        checked = {mode: new_tables() for mode in MODES}
        for mode, tables in checked.items():
            refresh(tables, MODES[mode])
        for kind in KINDS:  # each row as ingested, but for when it was
            assertDataFrameEqual(
                *(spark.table(getattr(checked[mode], kind)).drop("_ingested_at") for mode in MODES)
            )

        seconds: dict[str, dict[str, list[float]]] = {
            phase: {mode: [] for mode in MODES} for phase in ("new tables", "rerun")
        }
        for round_ in range(args.rounds):
            order = list(MODES) if round_ % 2 == 0 else list(MODES)[::-1]
            sets = {mode: new_tables() for mode in MODES}
            for phase in ("new tables", "rerun"):
                for mode in order:
                    seconds[phase][mode].append(refresh(sets[mode], MODES[mode]))
        spark.stop()

    results: list[dict[str, Any]] = []
    for phase, modes in seconds.items():
        result = step_result(phase, modes["one_by_one"], modes["concurrent"])
        results.append(
            {
                "step": f"writing the five tables ({phase})",
                "one_by_one_median_seconds": result["baseline_median_seconds"],
                "concurrent_median_seconds": result["this_tree_median_seconds"],
                "paired_ratio_median": result["paired_ratio_median"],
                "pairs": result["pairs"],
            }
        )
    emit(
        {
            "benchmark": "refresh_writes",
            "rows": 7043,
            "spark_master": "local[2]",
            "ratio": "concurrent / one_by_one, per round; below 1 is faster",
            "results": results,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
