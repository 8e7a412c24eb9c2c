from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import DATABASE, MODEL_NAME, World
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_features.store.delta import DeltaFeatureStore
from churn_model import load_model
from churn_scoring.errors import (
    KeysColumnError,
    KeysTableNotFoundError,
    ModelFeatureSpecError,
    ModelNotFoundError,
)
from churn_scoring.keys import read_keys
from churn_scoring.score import score_batch, score_table

UNKNOWN = ["NOPE-0001", "NOPE-0002", "NOPE-0003"]


def expected_proba(world: World, spark: SparkSession, features: pd.DataFrame) -> pd.Series:
    model = load_model(f"models:/{MODEL_NAME}/{world.champion_version}")
    return pd.Series(model.predict_proba(features), index=features["customer_id"])


def test_predictions_equal_the_models_own_pandas_predictions(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    features = spark.table(world.tables.features).toPandas()
    keys = spark.createDataFrame(
        pd.DataFrame(
            {
                "customer_id": [*features["customer_id"], *UNKNOWN],
                "segment": [f"s{i % 3}" for i in range(len(features) + len(UNKNOWN))],
            }
        )
    ).repartition(3)

    scored = score_batch(spark, world.model_uri, keys, store).toPandas()

    assert list(scored.columns) == [
        "customer_id",
        "segment",
        "churn_probability",
        "churn_prediction",
        "missing_features_reason",
        "model_name",
        "model_version",
    ]
    assert len(scored) == len(features) + len(UNKNOWN)
    assert set(scored["model_name"]) == {MODEL_NAME}
    assert set(scored["model_version"]) == {world.champion_version}
    got = scored.set_index("customer_id")
    known = got.loc[features["customer_id"]]
    expected = expected_proba(world, spark, features)
    np.testing.assert_allclose(
        known["churn_probability"].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9
    )
    threshold = load_model(world.model_uri).threshold
    assert (known["churn_prediction"] == (expected >= threshold).astype(int)).all()
    assert known["missing_features_reason"].isna().all()
    assert 0 < known["churn_prediction"].sum() < len(known)  # both classes occur

    unknown = got.loc[UNKNOWN]
    assert unknown["churn_probability"].isna().all()
    assert unknown["churn_prediction"].isna().all()
    assert set(unknown["missing_features_reason"]) == {
        f"no features for key in {world.tables.features}"
    }
    assert (got["segment"].str.startswith("s")).all()


def test_feature_columns_in_the_keys_win_over_looked_up_ones(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    features = spark.table(world.tables.features).limit(200).toPandas()
    overrides = features[["customer_id"]].assign(
        contract="Two year", tenure=np.int32(70), monthly_charges=20.0
    )
    keys = spark.createDataFrame(overrides)

    scored = score_batch(spark, world.model_uri, keys, store, passthrough=[]).toPandas()

    assert list(scored.columns[:2]) == ["customer_id", "churn_probability"]
    changed = features.assign(contract="Two year", tenure=70, monthly_charges=20.0)
    expected = expected_proba(world, spark, changed)
    got = scored.set_index("customer_id")["churn_probability"].loc[expected.index]
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    original = expected_proba(world, spark, features)
    assert not np.allclose(got.to_numpy(), original.to_numpy())


def test_null_keys_are_kept_with_a_reason(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    first = spark.table(world.tables.features).first()
    assert first is not None
    some_id = first["customer_id"]
    keys = spark.createDataFrame([(some_id,), (None,)], "customer_id string")

    rows = {r["customer_id"]: r for r in score_batch(spark, world.model_uri, keys, store).collect()}

    assert rows[None]["missing_features_reason"] == "null customer_id"
    assert rows[None]["churn_probability"] is None
    assert rows[some_id]["missing_features_reason"] is None
    assert 0.0 <= rows[some_id]["churn_probability"] <= 1.0


def test_a_version_uri_scores_with_that_version(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys = spark.table(world.tables.features).select("customer_id").limit(5)

    scored = score_batch(spark, f"models:/{MODEL_NAME}/1", keys, store)

    assert {(r["model_name"], r["model_version"]) for r in scored.collect()} == {(MODEL_NAME, "1")}


def test_latest_is_the_highest_version_without_asking_for_stages(world: World) -> None:
    """``models:/name/latest`` resolves through search_model_versions: Unity Catalog has no
    stages, and get_latest_versions fails there."""
    from churn_scoring.model_ref import resolve_model

    ref = resolve_model(f"models:/{MODEL_NAME}/latest")
    assert (ref.name, ref.version) == (MODEL_NAME, "2")
    assert ref.download_uri == f"models:/{MODEL_NAME}/2"


def test_missing_keys_table_is_one_clear_error(spark: SparkSession, world: World) -> None:
    with pytest.raises(KeysTableNotFoundError) as error:
        read_keys(spark, f"{DATABASE}.no_such_keys")
    message = str(error.value)
    assert f"{DATABASE}.no_such_keys does not exist" in message
    assert "fix:" in message


def test_keys_table_without_customer_id_is_one_clear_error(
    spark: SparkSession, world: World
) -> None:
    table = f"{DATABASE}.keys_without_id"
    spark.createDataFrame([("a",)], "id string").write.format("delta").mode(
        "overwrite"
    ).saveAsTable(table)

    with pytest.raises(KeysColumnError) as error:
        read_keys(spark, table)

    assert f"The keys table {table} has no 'customer_id' column" in str(error.value)
    assert "fix:" in str(error.value)


def test_keys_frame_without_customer_id_is_refused_before_any_work(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys = spark.createDataFrame([("a",)], "id string")
    with pytest.raises(KeysColumnError, match="no 'customer_id' column"):
        score_batch(spark, world.model_uri, keys, store)


def test_model_without_feature_spec_is_one_clear_error(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys = spark.createDataFrame([("a",)], "customer_id string")
    with pytest.raises(ModelFeatureSpecError) as error:
        score_batch(spark, world.no_spec_model_uri, keys, store)
    assert "without a feature spec" in str(error.value)
    assert "feature_spec=" in str(error.value)


def test_unknown_alias_is_one_clear_error(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys = spark.createDataFrame([("a",)], "customer_id string")
    with pytest.raises(ModelNotFoundError) as error:
        score_batch(spark, f"models:/{MODEL_NAME}@nobody", keys, store)
    assert f"{MODEL_NAME!r} has no version with alias 'nobody'" in str(error.value)


def test_only_requested_passthrough_columns_come_out(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys = (
        spark.table(world.tables.features)
        .select("customer_id")
        .limit(3)
        .withColumn("a", F.lit(1))
        .withColumn("b", F.lit(2))
    )
    scored = score_batch(spark, world.model_uri, keys, store, passthrough=["b"])
    assert scored.columns[:3] == ["customer_id", "b", "churn_probability"]
    with pytest.raises(KeysColumnError, match=r"\['zzz'\]"):
        score_batch(spark, world.model_uri, keys, store, passthrough=["zzz"])


def test_sort_merge_lookup_gives_the_same_rows_as_the_hash_lookup(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    known = spark.table(world.tables.features).select("customer_id").limit(50)
    keys = known.unionByName(spark.createDataFrame([(UNKNOWN[0],)], "customer_id string"))

    hashed = score_batch(spark, world.model_uri, keys, store)
    merged = score_batch(spark, world.model_uri, keys, store, hash_keys=False)

    assert "ShuffledHashJoin" in hashed._jdf.queryExecution().executedPlan().toString()
    assert sorted(hashed.collect()) == sorted(merged.collect())
    assert len(merged.collect()) == 51


def _plan(frame: DataFrame) -> str:
    return str(frame._jdf.queryExecution().executedPlan().toString())


def _sorted(frame: DataFrame) -> pd.DataFrame:
    return frame.toPandas().sort_values("customer_id").reset_index(drop=True)


def test_scoring_the_models_own_feature_table_scans_it_once_without_a_join(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    table = world.tables.features
    columns = ["customer_id", "contract"]  # a feature kept as a column, as the job allows

    scanned = score_table(spark, world.model_uri, table, store, columns=columns)
    joined = score_batch(spark, world.model_uri, spark.table(table).select(*columns), store)

    assert "Join" not in _plan(scanned)
    assert "Join" in _plan(joined)
    pd.testing.assert_frame_equal(_sorted(scanned), _sorted(joined))
    assert len(_sorted(scanned)) == spark.table(table).count()


def test_any_other_table_is_read_as_keys_and_its_features_looked_up(
    spark: SparkSession, store: DeltaFeatureStore, world: World
) -> None:
    keys_table = f"{DATABASE}.keys_for_score_table"
    ids = [r["customer_id"] for r in spark.table(world.tables.features).limit(50).collect()]
    spark.createDataFrame([(i,) for i in [*ids, *UNKNOWN]], "customer_id string").write.format(
        "delta"
    ).mode("overwrite").saveAsTable(keys_table)

    scored = score_table(spark, world.model_uri, keys_table, store)

    assert "Join" in _plan(scored)
    expected = score_batch(spark, world.model_uri, spark.table(keys_table), store)
    pd.testing.assert_frame_equal(_sorted(scored), _sorted(expected))
    with pytest.raises(KeysColumnError, match="no column"):
        score_table(spark, world.model_uri, keys_table, store, columns=["customer_id", "nope"])
