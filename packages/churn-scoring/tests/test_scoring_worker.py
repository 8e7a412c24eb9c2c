"""The worker-side cache, in this process: Spark's Broadcast is stood in by an object with the
same ``value`` attribute that counts reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from conftest import World
from pyspark.sql import SparkSession

from churn_model import load_model
from churn_scoring import worker
from churn_scoring.model_bundle import fetch_model
from churn_scoring.model_ref import resolve_model


@dataclass
class CountingBroadcast:
    model: bytes
    reads: int = 0

    @property
    def value(self) -> bytes:
        self.reads += 1
        return self.model


def test_model_is_loaded_once_per_worker_across_partitions_and_batches(
    spark: SparkSession, world: World
) -> None:
    bundle = fetch_model(resolve_model(world.model_uri))
    features = spark.table(world.tables.features).limit(40).toPandas()
    reasons = pa.array([None] * 38 + ["no features for key in x"] * 2, type=pa.string())
    table = pa.Table.from_pandas(features, preserve_index=False).append_column("reason", reasons)
    broadcast = CountingBroadcast(bundle.model)
    worker._MODELS.clear()

    def partition(batches: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return worker.score_partition(
            iter(batches),
            key=bundle.key,
            model_bytes=broadcast,  # type: ignore[arg-type]
            feature_names=bundle.feature_names,
            threshold=bundle.threshold,
            passthrough=("customer_id",),
            reason_column="reason",
            output_names=("customer_id", "p", "label", "reason"),
        )

    first = list(partition(table.slice(0, 20).to_batches()))
    second = list(partition(table.slice(20).to_batches(max_chunksize=7)))

    assert broadcast.reads == 1
    out = pa.Table.from_batches([*first, *second])
    expected = load_model(world.model_uri).predict_proba(features.iloc[:38])
    proba = out.column("p").to_numpy(zero_copy_only=False)
    np.testing.assert_allclose(proba[:38], expected, rtol=0, atol=1e-9)
    assert out.column("p").null_count == out.column("label").null_count == 2
    assert out.column("customer_id").to_pylist() == features["customer_id"].tolist()
