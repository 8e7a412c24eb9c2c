from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from conftest import DATABASE, World
from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from churn_features.store.delta import DeltaFeatureStore
from churn_scoring.errors import PredictionsTableError
from churn_scoring.predictions import write_predictions
from churn_scoring.score import score_batch

CONTENT = ["customer_id", "churn_probability", "churn_prediction", "missing_features_reason"]


@pytest.fixture(scope="module")
def scored(spark: SparkSession, store: DeltaFeatureStore, world: World) -> DataFrame:
    known = spark.table(world.tables.features).select("customer_id").limit(300)
    unknown = spark.createDataFrame([("NOPE-1",), ("NOPE-2",)], "customer_id string")
    return score_batch(spark, world.model_uri, known.unionByName(unknown), store).cache()


def content(spark: SparkSession, table: str, run_id: str) -> list[tuple[object, ...]]:
    rows = spark.table(table).where(f"scoring_run_id = '{run_id}'").select(*CONTENT).collect()
    return sorted((tuple(r) for r in rows), key=lambda r: str(r[0]))


def test_append_writes_one_run_with_its_columns_and_counts(
    spark: SparkSession, scored: DataFrame
) -> None:
    table = f"{DATABASE}.predictions_append"
    when = datetime(2024, 5, 17, 23, 30, tzinfo=UTC)

    summary = write_predictions(scored, table, run_id="run-1", scored_at=when)

    assert (summary.rows_written, summary.rows_without_features, summary.rows_scored) == (
        302,
        2,
        300,
    )
    assert summary.version == 0
    written = spark.table(table)
    assert written.columns[-3:] == ["scoring_run_id", "scored_at", "scoring_date"]
    assert {(r["scored_at"], r["scoring_date"]) for r in written.collect()} == {
        (datetime(2024, 5, 17, 23, 30), date(2024, 5, 17))  # session time zone is UTC
    }
    detail = DeltaTable.forName(spark, table).detail().first()
    assert detail is not None
    assert list(detail["partitionColumns"]) == ["scoring_date"]


def test_rerunning_a_run_id_replaces_its_rows_in_one_commit(
    spark: SparkSession, scored: DataFrame
) -> None:
    table = f"{DATABASE}.predictions_rerun"
    first = write_predictions(scored, table, run_id="run-1")
    before = content(spark, table, "run-1")
    other = write_predictions(scored, table, run_id="run-2")

    again = write_predictions(
        scored, table, run_id="run-1", scored_at=datetime(2030, 1, 2, tzinfo=UTC)
    )

    assert again.version == other.version + 1  # delete + insert in a single transaction
    assert again.rows_written == first.rows_written == 302
    assert spark.table(table).count() == 2 * 302
    assert content(spark, table, "run-1") == before
    rerun_dates = spark.table(table).where("scoring_run_id = 'run-1'").select("scoring_date")
    assert {r[0] for r in rerun_dates.distinct().collect()} == {date(2030, 1, 2)}


def test_overwrite_keeps_only_this_run(spark: SparkSession, scored: DataFrame) -> None:
    table = f"{DATABASE}.predictions_overwrite"
    write_predictions(scored, table, run_id="run-1", mode="append")
    write_predictions(scored, table, run_id="run-3", mode="overwrite")
    again = write_predictions(scored, table, run_id="run-3", mode="overwrite")

    runs = {r[0] for r in spark.table(table).select("scoring_run_id").distinct().collect()}
    assert runs == {"run-3"}
    assert again.rows_written == spark.table(table).count() == 302


def test_appending_to_a_table_of_another_layout_is_one_clear_error(
    spark: SparkSession, scored: DataFrame
) -> None:
    table = f"{DATABASE}.predictions_other"
    spark.createDataFrame([("a",)], "customer_id string").write.format("delta").saveAsTable(table)

    with pytest.raises(PredictionsTableError) as error:
        write_predictions(scored, table, run_id="run-1")

    assert f"The predictions table {table} has another layout" in str(error.value)
    assert spark.table(table).count() == 1


@pytest.mark.parametrize(
    ("run_id", "mode", "match"),
    [
        ("x' OR '1'='1", "append", "not usable"),
        ("", "append", "not usable"),
        ("run-1", "upsert", "Unknown predictions write mode 'upsert'"),
    ],
)
def test_bad_run_id_or_mode_is_refused(
    scored: DataFrame, run_id: str, mode: str, match: str
) -> None:
    with pytest.raises(PredictionsTableError, match=match):
        write_predictions(scored, f"{DATABASE}.never", run_id=run_id, mode=mode)  # type: ignore[arg-type]
