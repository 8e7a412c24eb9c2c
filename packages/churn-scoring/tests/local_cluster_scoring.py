"""Score on Spark ``local-cluster[2,1,1024]``: two executor JVMs, each with its own Python workers.

Run by ``test_scoring_local_cluster.py`` in a subprocess (one SparkContext per process):
``python local_cluster_scoring.py <tracking uri> <model uri> <features table> <delta path> <out>``.
The executors never see the driver's download directory: the model reaches them as a broadcast.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def jvm_arguments() -> tuple[int, tuple[str, ...]]:
    """In a Python worker: the pid and command-line arguments of its executor's JVM, the nearest
    ``java`` process above it (worker -> daemon -> JVM)."""
    import os

    pid = os.getpid()
    while pid > 1:
        proc = Path(f"/proc/{pid}")
        if (proc / "comm").read_text().strip() == "java":
            return pid, tuple((proc / "cmdline").read_bytes().decode().split("\0"))
        pid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])  # the parent
    raise RuntimeError("no java process above this Python worker")


def main(tracking_uri: str, model_uri: str, table: str, location: str, out: str) -> None:
    import mlflow
    import numpy as np

    from churn_features.store.delta import DeltaFeatureStore
    from churn_local_spark import local_spark
    from churn_model import load_model
    from churn_scoring.predictions import write_predictions
    from churn_scoring.score import score_batch

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    spark = local_spark(
        "churn-scoring-local-cluster",
        master="local-cluster[2,1,1024]",
        driver_memory="1g",
        warehouse_dir=tempfile.mkdtemp(prefix="churn-scoring-cluster-"),
        conf={
            "spark.executor.memory": "768m",
            "spark.sql.execution.arrow.maxRecordsPerBatch": "200",
        },
    )
    try:
        database = table.rsplit(".", 1)[0]
        spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
        spark.sql(f"CREATE TABLE {table} USING DELTA LOCATION '{location}'")
        features = spark.table(table)
        keys = features.select("customer_id").union(
            spark.createDataFrame([("NOPE-1",)], "customer_id string")
        )
        scored = score_batch(spark, model_uri, keys.repartition(4), DeltaFeatureStore(spark))
        summary = write_predictions(scored, f"{database}.predictions", run_id="cluster-run")
        got = {
            r["customer_id"]: r["churn_probability"]
            for r in spark.table(f"{database}.predictions").collect()
        }
        frame = features.toPandas()
        expected = load_model(model_uri).predict_proba(frame)
        diff = float(np.max(np.abs(np.array([got[k] for k in frame["customer_id"]]) - expected)))
        executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1
        runtime = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean()
        tasks = spark.sparkContext.parallelize(range(8), 8)
        executor_jvms = dict(tasks.map(lambda _: jvm_arguments()).collect())
        result = {
            "executors": int(executors),
            "rows_written": summary.rows_written,
            "rows_without_features": summary.rows_without_features,
            "unknown_probability": got["NOPE-1"],
            "max_abs_diff": diff,
            "rows_expected": len(frame),
            "driver_jvm_arguments": list(runtime.getInputArguments()),
            "executor_jvm_arguments": [list(a) for a in executor_jvms.values()],
        }
    finally:
        spark.stop()
    Path(out).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:6])
