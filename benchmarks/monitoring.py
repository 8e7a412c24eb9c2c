"""Monitoring throughput: churn-monitoring on Spark vs Evidently's data-drift report on pandas.

1. **ours**: ``churn_monitoring.monitor`` on N scored rows (the 23 feature columns of
   churn-features + the churn probability, one window, 3 slice columns), Spark ``local[2]``,
   every statistic (PSI, KS, normalised Wasserstein; chi-squared, Jensen-Shannon, TV, L-inf; null
   shares, profile, prediction drift) for the whole window and each slice value. The scored rows
   are written to Parquet first (untimed); the timed part reads them, aggregates and returns the
   monitor rows. Peak memory: this process and all its descendants (JVM, Python workers).
2. **evidently**: Evidently's legacy ``DataDriftPreset`` report on a pandas sample of
   ``--evidently-rows`` of the same rows against the same baseline, run once per pair of
   statistics we compute (ks + chisquare, wasserstein + jensenshannon, psi + TVD), so both sides
   compute the same statistics (Evidently computes no slices; ours do, on top).
3. **agreement**: our values on that same sample next to Evidently's, per column.

Rows: a pool of synthetic customers (churn-features' generator, featurized with churn-features)
repeated to N rows by a broadcast join; the current side has fiber prices up 10% so there is
something to detect. The baseline is the pool itself (like the champion's training rows).

    uv sync --all-packages --group bench
    uv run python benchmarks/monitoring.py --rows 10000000 --out .churn/bench/monitoring.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _peak_memory import sample_peak  # noqa: E402
from _report import emit  # noqa: E402

SLICES = ("contract", "internet_service", "senior_citizen")
EVIDENTLY_PAIRS = (("ks", "chisquare"), ("wasserstein", "jensenshannon"), ("psi", "TVD"))


def spark_session(home: Path) -> Any:
    from churn_jobs.context import SQL_SETTINGS
    from churn_jobs.local_platform import LocalPlatform

    spark = LocalPlatform(home).spark(
        master="local[2]", app_name="monitoring-benchmark", shuffle_partitions=2
    )
    for key, value in SQL_SETTINGS.items():
        spark.conf.set(key, value)
    return spark


def synthetic_probability() -> Any:
    """A churn probability made up from a few features (no model needed), rounded to 6 places."""
    from pyspark.sql import functions as F

    score = F.least(
        F.lit(0.98),
        F.lit(0.05)
        + F.when(F.col("contract") == "Month-to-month", 0.35).otherwise(0.0)
        + F.when(F.col("internet_service") == "Fiber optic", 0.15).otherwise(0.0)
        + F.lit(0.2) * F.exp(-F.col("tenure") / 24.0)
        + F.lit(0.1) * F.rand(7),
    )
    return F.round(score, 6)


def build_rows(spark: Any, home: Path, rows: int, pool_rows: int) -> tuple[Any, Any]:
    """(baseline, scored) frames, both read back from Parquet."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from churn_features.contract import FEATURE_COLUMNS
    from churn_features.featurize import build_features
    from churn_features.ingest import read_raw
    from churn_features.synthetic import write_raw_csv
    from churn_features.validation import flag_rows, typed_rows

    csv = write_raw_csv(home / "pool.csv", pool_rows, seed=3)
    pool = build_features(typed_rows(flag_rows(read_raw(spark, csv))))
    pool = pool.withColumn("churn_probability", synthetic_probability())
    pool.repartition(2).write.mode("overwrite").parquet(str(home / "baseline"))
    baseline = spark.read.parquet(str(home / "baseline"))
    keyed = baseline.withColumn(
        "slot", F.row_number().over(Window.orderBy(*FEATURE_COLUMNS, "churn_probability")) - 1
    )
    keyed.write.mode("overwrite").parquet(str(home / "pool_keyed"))
    keyed = spark.read.parquet(str(home / "pool_keyed"))
    fiber = F.col("internet_service") == "Fiber optic"
    scored = (
        spark.range(0, rows, numPartitions=max(2, rows // 500_000))
        .withColumn("slot", (F.col("id") % pool_rows).cast("int"))
        .join(F.broadcast(keyed), "slot")
        .withColumn(
            "monthly_charges",
            F.when(fiber, F.round(F.col("monthly_charges") * 1.1, 2)).otherwise(
                F.col("monthly_charges")
            ),
        )
        .withColumn("scoring_date", F.lit("2026-03-01").cast("date"))
        .drop("slot", "id")
    )
    scored.write.mode("overwrite").parquet(str(home / "scored"))
    return spark.read.parquet(str(home / "baseline")), spark.read.parquet(str(home / "scored"))


def spec() -> Any:
    from churn_features.contract import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from churn_monitoring import MonitorSpec

    return MonitorSpec(
        numeric=NUMERIC_FEATURES,
        categorical=CATEGORICAL_FEATURES,
        threshold=0.5,
        label=None,
        slices=SLICES,
    )


def ours(baseline: Any, scored: Any) -> Any:
    from churn_monitoring import monitor, with_windows

    return monitor(
        baseline,
        with_windows(scored, "scoring_date", "1 day"),
        spec(),
        granularity="1 day",
        model_version="bench",
    )


def evidently(reference: Any, current: Any) -> tuple[float, dict[str, dict[str, float]]]:
    """Seconds for the three reports, and drift_score per (stattest, column)."""
    from evidently.legacy.metric_preset import DataDriftPreset
    from evidently.legacy.pipeline.column_mapping import ColumnMapping
    from evidently.legacy.report import Report

    s = spec()
    mapping = ColumnMapping(
        numerical_features=[*s.numeric, s.probability],
        categorical_features=list(s.categorical),
        target=None,
        prediction=None,
    )
    scores: dict[str, dict[str, float]] = {}
    seconds = 0.0
    for num, cat in EVIDENTLY_PAIRS:
        report = Report(metrics=[DataDriftPreset(num_stattest=num, cat_stattest=cat)])
        start = time.perf_counter()
        report.run(reference_data=reference, current_data=current, column_mapping=mapping)
        result = report.as_dict()
        seconds += time.perf_counter() - start
        table = next(m for m in result["metrics"] if "drift_by_columns" in m["result"])
        for column, detail in table["result"]["drift_by_columns"].items():
            name = num if column in mapping.numerical_features else cat
            scores.setdefault(name, {})[column] = float(detail["drift_score"])
    return seconds, scores


def agreement(result: Any, scores: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Largest absolute difference per statistic (and where), ours vs Evidently's."""
    drift = result.drift
    overall = drift[drift["slice_key"].isna() & (drift["drift_type"] == "BASELINE")]
    ours_by = overall.set_index("column_name")
    pairs = {
        "ks": "ks_pvalue",
        "wasserstein": "wasserstein_normalized",
        "psi": "psi",
        "chisquare": "chi_squared_pvalue",
        "jensenshannon": "js_distance",
        "TVD": "tv_distance",
    }
    out: dict[str, Any] = {}
    for name, column in pairs.items():
        diffs = {
            c: abs(float(ours_by.loc[c, column]) - v)
            for c, v in scores.get(name, {}).items()
            if c in ours_by.index and ours_by.loc[c, column] == ours_by.loc[c, column]
        }
        if diffs:
            worst = max(diffs, key=lambda c: diffs[c])
            out[name] = {
                "ours": column,
                "max_abs_diff": round(diffs[worst], 6),
                "worst_column": worst,
                "ours_value": float(ours_by.loc[worst, column]),
                "evidently_value": scores[name][worst],
            }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pool-rows", type=int, default=50_000, help="distinct customers")
    parser.add_argument("--evidently-rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="churn-bench-monitoring-") as tmp:
        home = Path(tmp)
        spark = spark_session(home)
        log(f"building {args.rows:,} scored rows from {args.pool_rows:,} synthetic customers")
        baseline, scored = build_rows(spark, home, args.rows, args.pool_rows)
        log("warm-up on a small sample (untimed)")
        ours(baseline, scored.limit(10_000))
        log(f"ours: monitoring {args.rows:,} rows")
        with sample_peak() as memory:
            start = time.perf_counter()
            result = ours(baseline, scored)
            seconds = time.perf_counter() - start
        log(f"ours: {seconds:.1f}s, {len(result.drift)} drift rows, peak {memory.peak_mib:.0f} MiB")

        sample_rows = min(args.evidently_rows, args.rows)
        sample = scored.limit(sample_rows)
        sample.write.mode("overwrite").parquet(str(home / "sample"))
        sample = spark.read.parquet(str(home / "sample"))
        start = time.perf_counter()
        on_sample = ours(baseline, sample)
        ours_sample_seconds = time.perf_counter() - start
        reference_pd = baseline.toPandas()
        current_pd = sample.toPandas()
        log(f"evidently: 3 data-drift reports on {sample_rows:,} rows")
        evidently_seconds, scores = evidently(reference_pd, current_pd)
        log(f"evidently: {evidently_seconds:.1f}s")
        spark.stop()

    ours_rps = args.rows / seconds
    evidently_rps = sample_rows / evidently_seconds
    report = {
        "rows": args.rows,
        "columns": "23 features + churn_probability, 3 slice columns, 1 window",
        "spark_master": "local[2]",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_at_start_and_end": [load_at_start, round(os.getloadavg()[0], 2)],
        },
        "versions": {p: version(p) for p in ("pyspark", "evidently", "scipy", "pandas")},
        "ours": {
            "seconds": round(seconds, 2),
            "rows_per_second": round(ours_rps),
            "peak_mb": round(memory.peak_mib, 1),
            "on_evidently_sample_seconds": round(ours_sample_seconds, 2),
        },
        "evidently": {
            "rows": sample_rows,
            "seconds": round(evidently_seconds, 2),
            "rows_per_second": round(evidently_rps),
            "reports": [f"{n}+{c}" for n, c in EVIDENTLY_PAIRS],
        },
        "ratios": {
            "ours_rows_per_second_over_evidently": round(ours_rps / evidently_rps, 2),
            "ours_on_sample_speedup": round(evidently_seconds / ours_sample_seconds, 2),
        },
        "agreement_on_sample": agreement(on_sample, scores),
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
