"""The worker-side cache, in this process: Spark's Broadcast is stood in by an object with the
same ``value`` attribute that counts reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from conftest import World
from pyspark.sql import SparkSession

from churn_model import load_model
from churn_scoring import worker
from churn_scoring.model_bundle import ModelBundle, fetch_model
from churn_scoring.model_ref import resolve_model


@dataclass
class CountingBroadcast:
    model: bytes
    reads: int = 0

    @property
    def value(self) -> bytes:
        self.reads += 1
        return self.model


def _score(
    bundle: ModelBundle, broadcast: CountingBroadcast, batches: list[pa.RecordBatch], **extra: int
) -> list[pa.RecordBatch]:
    """One partition through the worker's mapInArrow function."""
    return list(
        worker.score_partition(
            iter(batches),
            key=bundle.key,
            model_bytes=broadcast,  # type: ignore[arg-type]
            feature_names=bundle.feature_names,
            threshold=bundle.threshold,
            passthrough=("customer_id",),
            reason_column="reason",
            output_names=("customer_id", "p", "label", "reason"),
            **extra,
        )
    )


def test_model_is_loaded_once_per_worker_across_partitions_and_batches(
    spark: SparkSession, world: World
) -> None:
    bundle = fetch_model(resolve_model(world.model_uri))
    features = spark.table(world.tables.features).limit(40).toPandas()
    reasons = pa.array([None] * 38 + ["no features for key in x"] * 2, type=pa.string())
    table = pa.Table.from_pandas(features, preserve_index=False).append_column("reason", reasons)
    broadcast = CountingBroadcast(bundle.model)
    worker._MODELS.clear()

    first = _score(bundle, broadcast, table.slice(0, 20).to_batches())
    second = _score(bundle, broadcast, table.slice(20).to_batches(max_chunksize=7))

    assert broadcast.reads == 1
    out = pa.Table.from_batches([*first, *second])
    expected = load_model(world.model_uri).predict_proba(features.iloc[:38])
    proba = out.column("p").to_numpy(zero_copy_only=False)
    np.testing.assert_allclose(proba[:38], expected, rtol=0, atol=1e-9)
    assert out.column("p").null_count == out.column("label").null_count == 2
    assert out.column("customer_id").to_pylist() == features["customer_id"].tolist()


def test_batches_coalesced_for_predict_give_the_rows_of_per_batch_scoring(
    spark: SparkSession, world: World
) -> None:
    """Rows keep their order and values whatever the coalescing: unscored rows (a reason) in
    the middle of a coalesced batch, empty batches, a last batch smaller than the rest."""
    bundle = fetch_model(resolve_model(world.model_uri))
    features = spark.table(world.tables.features).orderBy("customer_id").limit(60).toPandas()
    reasons = pa.array(
        [None] * 13 + ["no features for key in x"] * 3 + [None] * 43 + ["null customer_id"],
        type=pa.string(),
    )
    table = pa.Table.from_pandas(features, preserve_index=False).append_column("reason", reasons)
    batches = table.to_batches(max_chunksize=7)
    batches.insert(2, batches[0].slice(0, 0))  # Spark may send an empty batch
    broadcast = CountingBroadcast(bundle.model)

    def scored(predict_rows: int) -> tuple[pa.Table, int]:
        out = _score(bundle, broadcast, batches, predict_rows=predict_rows)
        return pa.Table.from_batches(out), len(out)

    one_per_batch, batches_out = scored(1)
    assert batches_out == 9, "60 rows in batches of 7: nine, the empty one skipped"
    for predict_rows, expected_batches in ((20, 3), (10_000, 1)):  # 3 x (7+7+7, or 7+7+4)
        coalesced, coalesced_batches = scored(predict_rows)
        assert coalesced_batches == expected_batches
        assert coalesced.equals(one_per_batch)
    expected = load_model(world.model_uri).predict_proba(features)
    proba = one_per_batch.column("p").to_numpy(zero_copy_only=False)
    scoreable = reasons.is_null().to_numpy(zero_copy_only=False)
    np.testing.assert_allclose(proba[scoreable], expected[scoreable], rtol=0, atol=1e-9)
    assert one_per_batch.column("p").null_count == 4
    assert one_per_batch.column("reason").to_pylist() == reasons.to_pylist()
    assert one_per_batch.column("customer_id").to_pylist() == features["customer_id"].tolist()
