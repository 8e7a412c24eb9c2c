"""Batch scoring throughput: churn-scoring vs ``mlflow.pyfunc.spark_udf`` vs the model's limit.

Scores N synthetic customers (churn-features' generator) with the RF depth-8 model
(packages/churn-model/configs/random_forest_depth8.yaml) on Spark ``local[2]``, side by side:

1. **ours**: ``score_table`` on the feature table itself (what model-inference-batch does by
   default: every customer with features, read in one scan, no join) and ``write_predictions``
   (Delta), end to end, model download included; **ours_join** is ``score_batch`` on a separate
   keys table (lookup by key: a join), the path any other keys table takes;
2. **spark_udf**: the same lookup (the same FeatureStore call), ``mlflow.pyfunc.spark_udf`` on the
   same registered model, the same Delta write;
3. **limit**: plain ``predict_proba`` of the same pipeline on the same rows as pandas frames,
   split over two processes (2 cores), timing the prediction only (rows already in memory);
4. and, for the breakdown, **ours_no_write** (ours into Spark's noop sink: no Delta write),
   **spark_floor**: the same scan and Delta write with no model at all
   (a constant probability): what any Spark method pays on top of the model; and
   **spark_floor_join**, the same with the lookup join (the floor before ``score_table``).

Each Spark method first scores a small warm-up set (untimed) so both start with warm Python
workers. Peak memory is the resident set of this process and all its descendants (JVM, Python
workers, pool processes), sampled from /proc every 0.1 s during each method.

    uv run --all-packages python benchmarks/scoring.py --rows 1000000 --out .churn/scoring.json
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _peak_memory import sample_peak  # noqa: E402
from _report import emit  # noqa: E402

CONFIG = REPO / "packages" / "churn-model" / "configs" / "random_forest_depth8.yaml"
MODEL_NAME = "churn-bench"
DB = "bench"


# --- setup --------------------------------------------------------------------------------------


def spark_session(home: Path, batch_rows: int) -> Any:
    """The local platform's session (Delta, loopback, 2 cores), with the Arrow batch size."""
    from churn_jobs.local_platform import LocalPlatform
    from churn_local_spark import CODEGEN_ON, DELTA_STATS_ON
    from churn_local_spark.session import JIT_ENV

    # and the JVM's tiered compilers with it (local drivers run C1 only for small data), unless
    # the environment chose
    os.environ.setdefault(JIT_ENV, "default")
    spark = LocalPlatform(home).spark(
        master="local[2]", app_name="scoring-benchmark", shuffle_partitions=2
    )
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    # Spark's code generation and Delta's file statistics, as on Databricks: at a million rows
    # they pay for their compiling (local drivers turn both off for the small data of jobs and
    # tests; see churn-local-spark).
    for key, value in {**CODEGEN_ON, **DELTA_STATS_ON}.items():
        spark.conf.set(key, value)
    return spark


def build_tables(spark: Any, home: Path, rows: int, log: Callable[[str], None]) -> str:
    """Raw synthetic CSV -> validated, featurized ``bench.churn_features`` and ``bench.labels``."""
    from churn_features.contract import KEY
    from churn_features.featurize import build_features, build_labels
    from churn_features.ingest import read_raw
    from churn_features.store.delta import DeltaFeatureStore
    from churn_features.synthetic import write_raw_csv
    from churn_features.validation import flag_rows, typed_rows

    log(f"generating {rows:,} synthetic raw customers")
    csv = write_raw_csv(home / "raw.csv", rows, seed=1)
    log("featurizing into the Delta feature table")
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {DB}")
    typed = typed_rows(flag_rows(read_raw(spark, csv))).cache()
    features = build_features(typed)
    table = f"{DB}.churn_features"
    store = DeltaFeatureStore(spark)
    store.create_table(table, [KEY], features.schema, "benchmark features")
    features.repartition(2).write.format("delta").mode("append").saveAsTable(table)
    build_labels(typed).write.format("delta").mode("overwrite").saveAsTable(f"{DB}.labels")
    spark.table(table).select(KEY).repartition(2).write.format("delta").mode(
        "overwrite"
    ).saveAsTable(f"{DB}.keys")
    typed.unpersist()
    return table


def train_and_register(spark: Any, table: str, train_rows: int, log: Callable[[str], None]) -> str:
    import mlflow
    from mlflow import MlflowClient

    from churn_model import FeatureSpec, load_model_config, log_model, train

    log(f"training RF depth 8 on {train_rows:,} rows and registering it")
    sample = (
        spark.table(table)
        .join(spark.table(f"{DB}.labels"), "customer_id")
        .orderBy("customer_id")
        .limit(train_rows)
        .toPandas()
    )
    config = load_model_config(CONFIG)
    result = train(sample, sample["churn"], config)
    spec = FeatureSpec.for_table(table, config.features.columns)
    with mlflow.start_run():
        info = log_model(
            result.pipeline,
            result.config,
            feature_spec=spec,
            input_example=result.X_train,
            registered_model_name=MODEL_NAME,
        )
    MlflowClient().set_registered_model_alias(
        MODEL_NAME, "champion", str(info.registered_model_version)
    )
    return f"models:/{MODEL_NAME}@champion"


# --- the three methods --------------------------------------------------------------------------


def ours(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """The batch job's default: score the feature table's own customers (one scan)."""
    from churn_features.store.delta import DeltaFeatureStore
    from churn_scoring.predictions import write_predictions
    from churn_scoring.score import score_table

    table = f"{DB}.churn_features"
    scored = score_table(spark, model_uri, table, DeltaFeatureStore(spark))
    summary = write_predictions(scored, f"{DB}.predictions_ours", run_id=run_id)
    return {"rows_written": summary.rows_written, "rows_without_features": 0}


def ours_no_write(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """For the breakdown: ``ours`` into Spark's ``noop`` sink (the scan and the model, no Delta
    write), to set beside the limit plus the floor's scan."""
    from churn_features.store.delta import DeltaFeatureStore
    from churn_scoring.score import score_table

    scored = score_table(spark, model_uri, f"{DB}.churn_features", DeltaFeatureStore(spark))
    scored.write.format("noop").mode("overwrite").save()
    return {}


def ours_join(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """A separate keys table: features looked up by key (a shuffled hash join)."""
    from churn_features.store.delta import DeltaFeatureStore
    from churn_scoring.predictions import write_predictions
    from churn_scoring.score import score_batch

    scored = score_batch(spark, model_uri, keys, DeltaFeatureStore(spark))
    summary = write_predictions(scored, f"{DB}.predictions_ours_join", run_id=run_id)
    return {"rows_written": summary.rows_written, "rows_without_features": 0}


def spark_udf(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """The usual way: lookup via the same port, ``mlflow.pyfunc.spark_udf``, the same writer."""
    import mlflow
    from pyspark.sql import functions as F

    from churn_features.store.delta import DeltaFeatureStore
    from churn_model import load_feature_spec
    from churn_scoring.lookup import look_up_features
    from churn_scoring.model_ref import resolve_model
    from churn_scoring.predictions import write_predictions

    ref = resolve_model(model_uri)
    spec = load_feature_spec(ref.download_uri)
    threshold = float(mlflow.models.get_model_info(ref.download_uri).metadata["threshold"])
    udf = mlflow.pyfunc.spark_udf(
        spark, ref.download_uri, result_type="double", env_manager="local"
    )
    # The same lookup as ours (shuffled hash join on the keys), so only the scoring differs.
    looked_up = look_up_features(keys, spec, DeltaFeatureStore(spark)).frame
    probability = udf(*[F.col(c) for c in spec.feature_names])
    scored = looked_up.select("customer_id", probability.alias("churn_probability")).select(
        "customer_id",
        "churn_probability",
        (F.col("churn_probability") >= threshold).cast("int").alias("churn_prediction"),
        F.lit(None).cast("string").alias("missing_features_reason"),
        F.lit(ref.name).alias("model_name"),
        F.lit(ref.version).alias("model_version"),
    )
    summary = write_predictions(scored, f"{DB}.predictions_spark_udf", run_id=run_id)
    return {"rows_written": summary.rows_written}


def spark_floor(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """No model at all: the same scan and Delta write with a constant probability. What any
    Spark method pays on top of the model; not one of the compared methods."""
    return _floor(spark, model_uri, None, run_id, "predictions_floor")


def spark_floor_join(spark: Any, model_uri: str, keys: Any, run_id: str) -> dict[str, Any]:
    """The floor of the lookup path: the keys joined with their features, written, no model."""
    return _floor(spark, model_uri, keys, run_id, "predictions_floor_join")


def _floor(spark: Any, model_uri: str, keys: Any, run_id: str, out: str) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from churn_features.store.delta import DeltaFeatureStore
    from churn_model import load_feature_spec
    from churn_scoring.lookup import look_up_features
    from churn_scoring.predictions import write_predictions

    spec = load_feature_spec(model_uri)
    store = DeltaFeatureStore(spark)
    looked_up = (
        store.read_table(f"{DB}.churn_features")
        if keys is None
        else look_up_features(keys, spec, store).frame
    )
    # Touch every feature column so the scan and the shuffle carry them, as scoring does.
    touched = F.least(*[F.length(F.col(c).cast("string")) for c in spec.feature_names])
    scored = looked_up.select(
        "customer_id",
        (touched * 0.0).cast("double").alias("churn_probability"),
        F.lit(0).alias("churn_prediction"),
        F.lit(None).cast("string").alias("missing_features_reason"),
        F.lit(MODEL_NAME).alias("model_name"),
        F.lit("0").alias("model_version"),
    )
    summary = write_predictions(scored, f"{DB}.{out}", run_id=run_id)
    return {"rows_written": summary.rows_written}


def _limit_worker(artifacts: str, parquet_file: str, barrier: Any, results: Any) -> None:
    """In its own process: load model + rows (untimed), wait for the sibling, time predict_proba."""
    import pyarrow.parquet as pq

    from churn_model.loaded import LoadedChurnModel

    model = LoadedChurnModel.from_artifacts_dir(artifacts)
    model.pipeline.set_params(classifier__n_jobs=1)
    frame = pq.read_table(parquet_file).to_pandas()
    barrier.wait()
    start = time.perf_counter()
    proba = model.predict_proba(frame)
    end = time.perf_counter()
    results.put((start, end, len(proba)))


def prepare_limit(spark: Any, model_uri: str, table: str, home: Path) -> tuple[str, list[str]]:
    """The same rows as two parquet files and the model's artifacts dir, on local disk."""
    import mlflow

    from churn_scoring.model_ref import resolve_model

    parquet = home / "limit_rows"
    spark.table(table).repartition(2).write.mode("overwrite").parquet(str(parquet))
    files = sorted(str(p) for p in parquet.glob("part-*.parquet"))
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=resolve_model(model_uri).download_uri, dst_path=str(home / "limit_model")
    )
    return str(Path(local) / "artifacts"), files


def limit(artifacts: str, files: list[str]) -> dict[str, Any]:
    """Plain predict_proba in two processes (one half of the rows each), timed from the first
    start to the last end. Peak memory: the two processes only."""
    context = mp.get_context("spawn")
    barrier, results = context.Barrier(len(files)), context.Queue()
    workers = [
        context.Process(target=_limit_worker, args=(artifacts, f, barrier, results)) for f in files
    ]
    with sample_peak(roots=lambda: [w.pid for w in workers if w.pid is not None]) as memory:
        for worker in workers:
            worker.start()
        timings = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
    # perf_counter is CLOCK_MONOTONIC on Linux: comparable across processes of one machine.
    seconds = max(end for _, end, _ in timings) - min(start for start, _, _ in timings)
    rows = sum(n for _, _, n in timings)
    return {"rows": rows, "seconds": round(seconds, 3), "peak_mb": round(memory.peak_mib, 1)}


def warm_up(spark: Any, keys: Any, rows: int) -> None:
    """Untimed: JIT the lookup/write path and start both Python workers with the heavy imports,
    without loading any model (each method then loads its model as a fresh job would)."""
    from churn_features.contract import KEY
    from churn_features.store.delta import DeltaFeatureStore
    from churn_model.feature_spec import FeatureLookup

    table = f"{DB}.churn_features"
    names = [c for c in spark.table(table).columns if c != KEY]
    lookup = FeatureLookup(table_name=table, lookup_key=[KEY], feature_names=names)
    sample = keys.limit(rows)
    DeltaFeatureStore(spark).create_training_set(sample, [lookup], None).write.format("delta").mode(
        "overwrite"
    ).saveAsTable(f"{DB}.warmup")
    spark.range(0, 2, numPartitions=2).mapInPandas(_import_and_forget, "id long").count()


def _import_and_forget(frames: Iterator[Any]) -> Iterator[Any]:
    """In each Spark Python worker: import what scoring needs; drop any cached churn model."""
    import mlflow.pyfunc  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import skops.io  # noqa: F401

    from churn_scoring import worker

    worker._MODELS.clear()
    yield from frames


def timed(fn: Callable[[], dict[str, Any]], rows: int) -> dict[str, Any]:
    with sample_peak() as memory:
        start = time.perf_counter()
        detail = fn()
        seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "peak_mb": round(memory.peak_mib, 1),
        **detail,
    }


def paired(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """(floor + limit) / ours of each repeat, and their median."""
    ratios = [
        round((floor["seconds"] + lim["seconds"]) / our["seconds"], 3)
        for our, floor, lim in zip(runs["ours"], runs["spark_floor"], runs["limit"], strict=True)
    ]
    return {"repeats": ratios, "median": statistics.median(ratios)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=10_000, help="Arrow maxRecordsPerBatch")
    parser.add_argument("--warmup-rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per method")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--keep", type=Path, help="work directory to keep (default: a temp dir)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)

    import mlflow

    load_at_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="churn-bench-scoring-") as tmp:
        home = args.keep or Path(tmp)
        home.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
        mlflow.set_registry_uri(f"sqlite:///{home / 'mlflow.db'}")
        experiment = mlflow.create_experiment("bench", artifact_location=str(home / "artifacts"))
        mlflow.set_experiment(experiment_id=experiment)
        spark = spark_session(home, args.batch_rows)
        table = build_tables(spark, home, args.rows, log)
        model_uri = train_and_register(spark, table, args.train_rows, log)
        keys = spark.table(f"{DB}.keys")

        artifacts, files = prepare_limit(spark, model_uri, table, home)
        runs: dict[str, list[dict[str, Any]]] = {
            "spark_udf": [],
            "ours": [],
            "ours_join": [],
            "ours_no_write": [],
            "limit": [],
            "spark_floor": [],
            "spark_floor_join": [],
        }
        methods = (
            ("spark_udf", spark_udf),
            ("ours", ours),
            ("ours_join", ours_join),
            ("ours_no_write", ours_no_write),
            ("spark_floor", spark_floor),
            ("spark_floor_join", spark_floor_join),
        )
        for repeat in range(1, args.repeats + 1):
            for name, method in methods:
                log(f"[{repeat}/{args.repeats}] {name}: warm-up, then scoring {args.rows:,} rows")
                warm_up(spark, keys, args.warmup_rows)
                result = timed(lambda m=method: m(spark, model_uri, keys, "bench"), args.rows)
                runs[name].append(result)
                log(f"{name}: {result}")
            log(f"[{repeat}/{args.repeats}] limit: predict_proba in 2 processes")
            runs["limit"].append(limit(artifacts, files))
            log(f"limit: {runs['limit'][-1]}")
        spark.stop()

    results = {}
    for name, measured in runs.items():
        for result in measured:
            result["rows_per_second"] = round(result["rows"] / result["seconds"], 1)
        median = statistics.median_low(r["rows_per_second"] for r in measured)
        results[name] = {
            "rows_per_second": median,
            "seconds": next(r["seconds"] for r in measured if r["rows_per_second"] == median),
            "peak_mb": max(r["peak_mb"] for r in measured),
            "runs": measured,
        }
    report = {
        "rows": args.rows,
        "model": "random_forest_depth8 (200 trees), trained on "
        f"{args.train_rows:,} rows, registered and loaded from MLflow (SQLite)",
        "spark_master": "local[2]",
        "arrow_max_records_per_batch": args.batch_rows,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_at_start_and_end": [load_at_start, round(os.getloadavg()[0], 2)],
        },
        "versions": {
            p: version(p) for p in ("pyspark", "delta-spark", "mlflow", "scikit-learn", "pyarrow")
        },
        "results": results,
        "ratios": {
            "ours_over_limit": round(
                results["ours"]["rows_per_second"] / results["limit"]["rows_per_second"], 3
            ),
            "ours_over_spark_udf": round(
                results["ours"]["rows_per_second"] / results["spark_udf"]["rows_per_second"], 3
            ),
            # Ideal for a Spark method: the floor's read + write, then the model at its limit.
            "ours_over_floor_plus_limit": round(
                (results["spark_floor"]["seconds"] + results["limit"]["seconds"])
                / results["ours"]["seconds"],
                3,
            ),
            # The same, for the lookup path (a separate keys table; before score_table, the
            # batch job took this path for its default keys too).
            "ours_join_over_floor_join_plus_limit": round(
                (results["spark_floor_join"]["seconds"] + results["limit"]["seconds"])
                / results["ours_join"]["seconds"],
                3,
            ),
            "ours_over_ours_join": round(
                results["ours_join"]["seconds"] / results["ours"]["seconds"], 3
            ),
            "floor_over_floor_join": round(
                results["spark_floor"]["seconds"] / results["spark_floor_join"]["seconds"], 3
            ),
        },
        # The same ratio within each repeat (the three methods' runs of one round), then the median:
        # on a noisy 2-core machine the JVM-bound runs drift by ±30 % between repeats, and
        # medians taken per method can pair one repeat's ours with another's floor.
        "ours_over_floor_plus_limit_per_repeat": paired(runs),
    }
    emit(report, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
