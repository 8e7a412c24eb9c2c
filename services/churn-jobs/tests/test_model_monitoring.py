"""model-monitoring with real Spark, Delta and MLflow on the time-ordered synthetic scenario.

One store for the module, built by the real jobs: feature-table-refresh on a training cohort,
model-train, model-validation, a manual promotion; then monthly cohorts are featurized, scored by
the champion (scored_at = the month) and their labels arrive one month late. The tests run in
file order, each one a step of the story: bad input, quiet months, late labels, the drift from
month 3, the single retraining, the cool-down.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from churn_jobs.context import JobContext
from churn_jobs.registry_access import registry
from churn_jobs.request import JobRequest
from churn_jobs.runner import exit_on_user_error, run_job
from churn_jobs.settings import RuntimeSettings

pytestmark = pytest.mark.slow

MODEL = {
    "estimator": {"kind": "random_forest", "n_estimators": 30, "max_depth": 6, "random_state": 0},
    "threshold": 0.5,
    "split": {"test_size": 0.25, "seed": 1, "stratify": True},
}
PER_MONTH = 700
MONTHS = 4  # drift from month 3


@dataclass
class World:
    ctx: JobContext
    home: Path
    cohorts: Any  # pandas frame of every monthly cohort

    def job(self, name: str, params: dict[str, Any] | None = None) -> Any:
        request = JobRequest(runtime=self.ctx.runtime, params=params or {})
        return run_job(name, request, console=self.ctx.console, home=self.home)

    def monitor(self, **params: Any) -> Any:
        params.setdefault("granularity", "1 month")
        params.setdefault(
            "retrain",
            {
                "params": {
                    "model-train": {"model": MODEL, "plots": False},
                    "model-validation": {"check_requirements": False},
                    # the new model must beat the champion by 0.5 AUC: it is rejected, so the
                    # champion (and its episode) stays for the cool-down step
                    "model-deployment": {"rule": {"min_improvement": 0.5}},
                }
            },
        )
        # the HTML report (its figures are most of a run's Python time) in two runs: one that
        # computes no window (a report without this run's results) and the one that fires
        params.setdefault("report", False)
        return self.job("model-monitoring", params)

    def tables(self) -> tuple[str, str]:
        base = self.ctx.table(self.ctx.runtime.tables.predictions)
        return f"{base}_profile_metrics", f"{base}_drift_metrics"


def expect_user_error(world: World, fragment: str, **params: Any) -> str:
    console = Console(record=True, width=300)
    with pytest.raises(SystemExit) as exited, exit_on_user_error(console):
        world.monitor(**params)
    assert exited.value.code == 2
    text = console.export_text()
    assert fragment in text, text
    assert "fix:" in text
    return text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from churn_features.synthetic import DriftScenario, generate_monthly_cohorts

    home = tmp_path_factory.mktemp("churn-home")
    runtime = RuntimeSettings(
        environment="test",
        schema="monitoring_test",
        experiment="monitoring-test",
        registered_model_name="churn-monitoring-test",
    )
    ctx = JobContext(runtime=runtime, console=Console(width=140), home=home)
    training = generate_monthly_cohorts(1, 3000, seed=99)
    raw = home / "training.csv"
    training.drop(columns=["cohort_month", "label_available_on"]).to_csv(raw, index=False)
    cohorts = generate_monthly_cohorts(
        MONTHS, PER_MONTH, seed=7, drift=DriftScenario(start_month=3)
    )
    w = World(ctx, home, cohorts)
    w.job("feature-table-refresh", {"source": str(raw), "reference_fraction": 0.3})
    w.job("model-train", {"model": MODEL, "plots": False})
    w.job("model-validation", {"check_requirements": False})
    yield w
    ctx.spark.stop()


def add_month(world: World, month: int) -> None:
    """Featurize the month's cohort into the feature table and score it with the champion."""
    from churn_features.featurize import build_features
    from churn_features.ingest import read_raw
    from churn_features.store.delta import DeltaFeatureStore
    from churn_features.validation import flag_rows, typed_rows
    from churn_scoring.predictions import write_predictions
    from churn_scoring.score import score_batch

    ctx, spark = world.ctx, world.ctx.spark
    cohort = world.cohorts[world.cohorts["cohort_month"] == date(2026, month, 1)]
    path = world.home / f"month{month}.csv"
    cohort.drop(columns=["cohort_month", "label_available_on"]).to_csv(path, index=False)
    features = build_features(typed_rows(flag_rows(read_raw(spark, path))))
    features.write.format("delta").mode("append").saveAsTable(ctx.table("churn_features"))
    keys = spark.createDataFrame(
        cohort[["customerID"]].rename(columns={"customerID": "customer_id"})
    )
    scored = score_batch(
        spark,
        f"models:/{ctx.runtime.registered_model_name}@champion",
        keys,
        DeltaFeatureStore(spark),
    )
    write_predictions(
        scored,
        ctx.table("churn_predictions"),
        run_id=f"month-{month}",
        scored_at=datetime(2026, month, 1, 8, tzinfo=UTC),
    )


def labels_arrive(world: World, month: int) -> None:
    from pyspark.sql import functions as F

    cohort = world.cohorts[world.cohorts["cohort_month"] == date(2026, month, 1)]
    labels = world.ctx.spark.createDataFrame(
        cohort[["customerID", "Churn"]].rename(columns={"customerID": "customer_id"})
    ).select("customer_id", (F.col("Churn") == "Yes").cast("int").alias("churn"))
    labels.write.format("delta").mode("append").saveAsTable(world.ctx.table("churn_labels"))


@contextmanager
def training_rows_gone(world: World) -> Iterator[None]:
    """The champion's recorded labels version is gone (e.g. vacuumed past retention)."""
    client, name = world.ctx.mlflow, world.ctx.runtime.registered_model_name
    labels_tag = f"delta_version_{world.ctx.table('churn_labels').replace('.', '_')}"
    kept = registry(world.ctx).version(1).tags[labels_tag]
    client.set_model_version_tag(name, "1", labels_tag, "999")
    try:
        yield
    finally:
        client.set_model_version_tag(name, "1", labels_tag, kept)


def test_bad_input_is_one_message_and_exit_2_with_nothing_written(world: World) -> None:
    expect_user_error(world, "no champion yet")
    registry(world.ctx).promote_version(1, expected_champion=None)
    expect_user_error(world, "does not exist yet")
    add_month(world, 1)
    with training_rows_gone(world):
        expect_user_error(world, "training rows are gone")
    spark = world.ctx.spark
    assert not any(spark.catalog.tableExists(t) for t in world.tables()), "nothing written"


def test_quiet_months_do_not_fire_and_reruns_replace(world: World) -> None:
    add_month(world, 2)
    labels_arrive(world, 1)
    first = world.monitor()
    assert first.status == "ok", first.reasons
    assert not first.fired
    assert len(first.windows_computed) == 2
    assert first.baseline == "computed"
    profile, drift = world.tables()
    spark = world.ctx.spark
    counts = (spark.table(profile).count(), spark.table(drift).count())
    with training_rows_gone(world):  # nothing new to compare: the baselines are not read
        rerun = world.monitor(report=True)
    assert rerun.windows_computed == []
    assert rerun.report_path is not None
    assert rerun.report_path.endswith("/report/monitoring_report.html")
    assert (spark.table(profile).count(), spark.table(drift).count()) == counts
    assert registry(world.ctx).version(1).tags["monitoring_status"] == "ok"
    table = spark.table(profile).where("column_name = ':table' AND slice_key IS NULL").toPandas()
    by_month = table.set_index(table["window_start"].dt.month)
    assert by_month.loc[1, "labelled_count"] == PER_MONTH
    assert 0.6 < by_month.loc[1, "roc_auc"] < 1.0
    assert by_month.loc[2, "labelled_count"] == 0  # labels not there yet
    assert by_month.loc[1, "expected_loss"] > 0


def test_late_labels_recompute_only_their_window(world: World) -> None:
    labels_arrive(world, 2)
    result = world.monitor()
    assert [w.month for w in result.windows_computed] == [2]
    assert result.baseline == "kept", "the champion's baseline is summarised once"
    kept = world.ctx.table(world.ctx.runtime.tables.predictions) + "_monitor_baseline"
    assert world.ctx.spark.table(kept).count() == 1
    profile, _ = world.tables()
    table = (
        world.ctx.spark.table(profile)
        .where("column_name = ':table' AND slice_key IS NULL")
        .toPandas()
    )
    assert len(table) == 2  # replaced, not duplicated
    assert table.set_index(table["window_start"].dt.month).loc[2, "labelled_count"] == PER_MONTH


def test_drift_fires_once_and_names_the_features(world: World) -> None:
    add_month(world, 3)
    third = world.monitor()
    assert third.status == "drift"
    assert third.baseline == "kept"
    assert not third.fired  # one violating window of the last three: not yet
    add_month(world, 4)
    fired = world.monitor(report=True)
    assert fired.fired
    assert {"monthly_charges", "contract"} & set(fired.drifting), fired.drifting
    reg = registry(world.ctx)
    versions = {v.version for v in reg.versions()}
    assert "2" in versions, "model-train ran and registered a new version"
    assert reg.state().champion == "1", "deployment rejected it (min_improvement 0.5)"
    tags = reg.version(1).tags
    assert tags["monitoring_trigger_run_id"] == fired.run_id
    new_runs = [r for r in fired.retrain_runs if r.startswith("mlflow:")]
    assert new_runs
    run = world.ctx.mlflow.get_run(new_runs[0].split(":", 1)[1])
    assert run.data.tags["monitoring_trigger_run_id"] == fired.run_id
    artifacts = [a.path for a in world.ctx.mlflow.list_artifacts(fired.run_id, "report")]
    assert artifacts == ["report/monitoring_report.html"]
    # the run's metrics: each window's profile as a series, the last window's drift statistics
    history = world.ctx.mlflow.get_metric_history(fired.run_id, "row_count")
    assert [(m.step, m.value) for m in history] == [(m, PER_MONTH) for m in range(MONTHS)]
    metrics = world.ctx.mlflow.get_run(fired.run_id).data.metrics
    assert metrics["psi.monthly_charges"] > 0.1, "month 4's charges drifted"
    assert {"js_distance.contract", "wasserstein_normalized.tenure"} <= set(metrics)

    # the same episode: a rerun, and a new drifting window, fire nothing
    assert not world.monitor().fired
    labels_arrive(world, 3)
    kept = world.ctx.table(world.ctx.runtime.tables.predictions) + "_monitor_baseline"
    world.ctx.spark.sql(f"UPDATE {kept} SET baseline = 'damaged by hand'")
    again = world.monitor()
    assert again.baseline == "computed", "a kept baseline that does not decode is summarised again"
    assert world.ctx.spark.table(kept).count() == 2
    assert not again.fired
    assert again.status == "drift"
    assert {v.version for v in reg.versions()} == versions, "no second retraining"


def test_no_drift_scenario_raises_no_alarm_over_seeds(world: World) -> None:
    """False alarms of the library on the scenario without drift (three seeds x four months)."""
    from pyspark.sql import functions as F

    from churn_features.contract import CATEGORICAL_FEATURES, NUMERIC_FEATURES
    from churn_features.featurize import build_features
    from churn_features.ingest import read_raw
    from churn_features.synthetic import generate_monthly_cohorts
    from churn_features.validation import flag_rows, typed_rows
    from churn_monitoring import (
        MonitorPolicy,
        MonitorSpec,
        decide,
        monitor,
        window_verdicts,
        with_windows,
    )

    spark = world.ctx.spark
    spec = MonitorSpec(
        numeric=NUMERIC_FEATURES, categorical=CATEGORICAL_FEATURES, threshold=0.5, label=None
    )
    violations = 0
    for seed in (1, 2, 3):
        frame = generate_monthly_cohorts(5, 800, seed=seed)
        path = world.home / f"quiet-{seed}.csv"
        frame.drop(columns=["cohort_month", "label_available_on"]).to_csv(path, index=False)
        features = build_features(typed_rows(flag_rows(read_raw(spark, path))))
        months = spark.createDataFrame(
            frame[["customerID", "cohort_month"]].rename(columns={"customerID": "customer_id"})
        )
        rows = features.join(months, "customer_id").withColumn(
            "churn_probability",
            F.lit(0.3) + F.lit(0.4) * (F.col("contract") == "Month-to-month").cast("double"),
        )
        # persisted, as model-monitoring persists its rows: each of monitor's queries would
        # otherwise read and featurize the file again
        rows = with_windows(rows, "cohort_month", "1 month").persist()
        baseline = rows.where(F.col("cohort_month") == F.lit("2026-01-01").cast("date"))
        current = rows.where(F.col("cohort_month") > F.lit("2026-01-01").cast("date"))
        result = monitor(baseline, current, spec, granularity="1 month", model_version="q")
        rows.unpersist()
        verdicts = window_verdicts(
            result.profile, result.drift, MonitorPolicy(), "churn_probability", None
        )
        violations += sum(v.violated for v in verdicts)
        assert not decide(verdicts, MonitorPolicy(), None).fire
    assert violations == 0
