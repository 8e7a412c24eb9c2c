"""feature-table-refresh throughput: the real 7,043 rows and a synthetic 1,000,000-customer input.

Runs the library's refresh (ingest, validation with quarantine, featurization, reference split,
bronze/quarantine/labels/reference replace and the feature-table MERGE) on Spark ``local[2]`` with
Delta, in a throw-away CHURN_HOME, and reports rows/s and peak memory (this process + the JVM +
Python workers). Each input is refreshed twice: the second run is the idempotent rerun (MERGE
that changes nothing). Each run also reports how many Spark jobs it ran and how its seconds
split between them and the driver's work around them (from Spark's event log, _spark_jobs.py).

    uv run python benchmarks/feature_refresh.py --rows 1000000 --out feature_refresh.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _peak_memory import sample_peak
from _spark_jobs import enable_event_log, job_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic customers")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()

    from churn_features.refresh import RefreshTables, refresh_feature_tables
    from churn_features.store.delta import DeltaFeatureStore
    from churn_features.synthetic import write_raw_csv
    from churn_jobs.local_platform import LocalPlatform

    results = []
    with tempfile.TemporaryDirectory(prefix="churn-bench-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        synthetic = write_raw_csv(home / "synthetic.csv", args.rows, seed=args.seed)
        generate_seconds = time.perf_counter() - started
        print(f"generated {args.rows:,} synthetic customers in {generate_seconds:.1f}s")

        enable_event_log(home / "spark-events")
        spark = LocalPlatform(home).spark(master="local[2]", app_name="bench-feature-refresh")
        store = DeltaFeatureStore(spark)
        for label, source, db in (("real", "vendored", "real"), ("synthetic", synthetic, "syn")):
            tables = RefreshTables(
                *(f"{db}.{t}" for t in ("bronze", "quarantine", "features", "labels", "reference"))
            )
            for attempt in ("first", "rerun"):
                with sample_peak() as peak:
                    t0, wall_start = time.perf_counter(), time.time()
                    result = refresh_feature_tables(spark, store, tables, source=source)
                    seconds, wall_end = time.perf_counter() - t0, time.time()
                rows = result.report.rows_read
                row = {
                    "input": label,
                    "run": attempt,
                    "rows": rows,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(rows / seconds),
                    "peak_rss_mib": round(peak.peak_mib),
                    "quarantined": result.report.rows_quarantined,
                    "features_changed": result.features_write.rows_inserted
                    + result.features_write.rows_updated
                    + result.features_write.rows_deleted,
                    **job_time(home / "spark-events", wall_start, wall_end),
                }
                results.append(row)
                print(
                    f"{label:>9} {attempt:>5}: {rows:>9,} rows in {seconds:6.1f}s = "
                    f"{row['rows_per_second']:>7,} rows/s, peak RSS {row['peak_rss_mib']:,} MiB, "
                    f"feature rows changed {row['features_changed']:,}; "
                    f"{row['spark_jobs']} Spark jobs busy {row['seconds_in_spark_jobs']}s, "
                    f"{row['seconds_between_jobs']}s between them"
                )
        spark.stop()
    report = {
        "benchmark": "feature_refresh",
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "spark_master": "local[2]",
        "synthetic_generation_seconds": round(generate_seconds, 1),
        "results": results,
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
