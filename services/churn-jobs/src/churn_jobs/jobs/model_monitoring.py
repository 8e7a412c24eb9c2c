"""model-monitoring: watch the champion on the rows it scored; retrain when the policy fires.

1. Inputs, checked before anything is written (a problem is one message, exit 2): the champion,
   its scored rows (any table of scored rows: the batch predictions table today, the online
   inference log later), and, when a window is to be computed (2), its baseline: the champion's
   own training rows, read with Delta time travel at the table versions recorded on the model
   version; the prediction drift's baseline is the champion's scores on the held-out reference
   customers of the same refresh. A run with no such window reads and scores neither. The
   baseline's summaries are kept in ``<predictions>_monitor_baseline`` by the first run that
   needs them; later runs of the same champion read them from there.
2. Windows (scoring date truncated to the granularity) that are new, or whose label count
   changed since they were last computed (labels arrive late), are computed with
   churn-monitoring and replace their rows in ``<predictions>_profile_metrics`` and
   ``<predictions>_drift_metrics`` (drift first, profile last: a window counts as done once its
   profile exists, so a crash in between is recomputed by the next run).
3. The policy reads every window of the champion back from the tables and decides; one MLflow
   run records metrics, the policy, the verdict and an HTML report; the champion version is
   tagged with its drift status.
4. When the policy fires: the firing is tagged on the champion first (so a rerun never fires the
   same episode twice), then retraining starts (locally model-train -> model-validation ->
   model-deployment in this process; on Databricks ``run-now`` of the deployed jobs by name).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError
from churn_jobs.progress import steps
from churn_jobs.registry_access import registry
from churn_jobs.settings import StrictModel
from churn_jobs.snapshots import table_snapshot
from churn_monitoring import BusinessParams, MonitorPolicy

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from churn_monitoring import Baseline, Decision, MonitorResult, MonitorSpec
    from churn_registry_ops import ModelVersionInfo

KEY = "customer_id"
LABEL = "churn"
PROBABILITY = "churn_probability"
TAG_STATUS = "monitoring_status"
TAG_LAST_WINDOW = "monitoring_last_window"
TAG_RUN = "monitoring_run_id"
TAG_DRIFTING = "monitoring_drifting_features"
TAG_LAST_FIRED = "monitoring_last_trigger_window"
TAG_FIRED_RUN = "monitoring_trigger_run_id"


class RetrainParams(StrictModel):
    enabled: bool = True
    jobs: list[str] = Field(
        default_factory=lambda: ["model-train", "model-validation", "model-deployment"],
        description="Locally: the jobs run in this order. On Databricks: the deployed jobs "
        "started by name (model-train runs validation as its second task).",
    )
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Locally: task parameters per job; a job not listed reads its params file.",
    )
    databricks_job_names: list[str] = Field(
        default_factory=list,
        description="On Databricks: deployed job names, in order (default "
        "<ENV>-churn-model-train, <ENV>-churn-model-deployment).",
    )


class Params(StrictModel):
    predictions_table: str | None = Field(
        default=None,
        description="Scored rows to monitor (short or qualified name); default the environment's "
        "predictions table. Needs customer_id, churn_probability, model_version, scoring_date.",
    )
    granularity: Literal["1 day", "1 week", "1 month"] = "1 day"
    slices: list[str] = Field(
        default_factory=lambda: ["contract", "internet_service", "senior_citizen"]
    )
    max_grid: int = Field(default=1000, ge=10)
    policy: MonitorPolicy = MonitorPolicy()
    business: BusinessParams = BusinessParams()
    retrain: RetrainParams = RetrainParams()
    report: bool = True


BaselineSource = Literal["kept", "computed", "not needed"]


@dataclass
class MonitoringSummary:
    model_name: str
    model_version: str
    run_id: str
    windows_computed: list[datetime]
    windows_total: int
    status: str
    fired: bool
    drifting: list[str]
    reasons: list[str]
    report_path: str | None = None
    retrain_runs: list[str] = field(default_factory=list)
    #: "kept": read from ``baseline_table``; "computed" (and kept there); "not needed"
    baseline: BaselineSource = "not needed"
    baseline_table: str | None = None


def run(ctx: JobContext, params: Params) -> MonitoringSummary:
    import mlflow

    from churn_monitoring import decide, window_verdicts
    from churn_monitoring.tables import (
        DRIFT_SCHEMA,
        PROFILE_SCHEMA,
        baseline_table_name,
        drift_table_name,
        profile_table_name,
        read_monitor_rows,
        write_monitor_rows,
    )

    predictions = _qualified(ctx, params.predictions_table or ctx.runtime.tables.predictions)
    profile_table, drift_table = profile_table_name(predictions), drift_table_name(predictions)
    with steps(ctx.console, "model-monitoring") as step:
        step("finding the champion")
        champion = _champion(ctx)
        version = str(champion.version)
        step(f"reading the rows {champion.name} v{version} scored in {predictions}")
        spec = _spec(ctx, champion, params)
        # Each input is read by several aggregations (grids, profile, performance, window
        # counts): without caching, every one re-runs its joins and the reference's scoring UDF.
        scored = _scored_rows(ctx, predictions, version, params).persist()
        inputs = [scored]

        step("finding new windows and windows whose labels arrived")
        existing = read_monitor_rows(ctx.spark, profile_table, version, params.granularity)
        todo, total = _windows_to_compute(scored, existing)
        result: MonitorResult | None = None
        baseline_source: BaselineSource = "not needed"
        if todo:  # else nothing to compare: the baselines are neither read nor scored
            from churn_monitoring import monitor

            baseline, kept = _baseline(ctx, champion, spec, predictions, step)
            baseline_source = "kept" if kept else "computed"
            step(f"computing {len(todo)} window(s) on Spark")
            result = monitor(
                baseline,
                scored,
                spec,
                granularity=params.granularity,
                model_version=version,
                windows=todo,
                business=params.business,
            )
            step(f"writing {drift_table} and {profile_table}")
            for table, rows, schema in (
                (drift_table, result.drift, DRIFT_SCHEMA),
                (profile_table, result.profile, PROFILE_SCHEMA),
            ):
                write_monitor_rows(
                    ctx.spark,
                    table,
                    rows,
                    schema,
                    model_version=version,
                    granularity=params.granularity,
                    windows=result.windows,
                )

        step("evaluating the policy over the champion's windows")
        profile = read_monitor_rows(ctx.spark, profile_table, version, params.granularity)
        drift = read_monitor_rows(ctx.spark, drift_table, version, params.granularity)
        reference = _float(champion.tags.get("churn_metric_test_roc_auc"))
        verdicts = window_verdicts(profile, drift, params.policy, PROBABILITY, reference)
        last_fired = _parse_time(champion.tags.get(TAG_LAST_FIRED))
        decision = decide(verdicts, params.policy, last_fired)

        step("logging the monitoring run to MLflow")
        ctx.use_experiment()
        with mlflow.start_run(run_name="model-monitoring") as active:
            run_id = active.info.run_id
            report_path = _log_run(ctx, params, run_id, champion, profile, drift, decision, result)
        summary = MonitoringSummary(
            model_name=champion.name,
            model_version=version,
            run_id=run_id,
            windows_computed=list(result.windows) if result else [],
            windows_total=total,
            status=decision.status,
            fired=decision.fire and params.retrain.enabled,
            drifting=decision.drifting,
            reasons=decision.reasons,
            report_path=report_path,
            baseline=baseline_source,
            baseline_table=baseline_table_name(predictions),
        )
        tags = {
            TAG_STATUS: decision.status,
            TAG_RUN: run_id,
            TAG_LAST_WINDOW: _iso(decision.window_start),
            TAG_DRIFTING: ",".join(decision.drifting)[:4000] or "-",
        }
        if summary.fired:
            tags.update({TAG_LAST_FIRED: _iso(decision.window_start), TAG_FIRED_RUN: run_id})
        step(f"tagging {champion.name} v{version}: {decision.status}")
        for key, value in tags.items():
            ctx.mlflow.set_model_version_tag(champion.name, version, key, value)
        for frame in inputs:
            frame.unpersist()

    if summary.fired:
        from churn_jobs.retrain import start_retraining

        ctx.console.print(
            f"[bold yellow]policy fired[/] on window {_iso(decision.window_start)}: "
            f"retraining ({', '.join(decision.drifting) or 'performance'})"
        )
        summary.retrain_runs = start_retraining(ctx, params.retrain, run_id)
        ctx.mlflow.set_tag(run_id, "retrain_runs", ",".join(summary.retrain_runs)[:5000])
    render(ctx, summary)
    return summary


# --- inputs ---------------------------------------------------------------------------------------


def _champion(ctx: JobContext) -> ModelVersionInfo:
    from churn_registry_ops import ModelNotFound, NoChampion

    name = ctx.runtime.registered_model_name
    try:
        return registry(ctx).require_champion()
    except (NoChampion, ModelNotFound):
        raise UserError(
            f"{name} has no champion yet: there is no deployed model to monitor.",
            "promote a validated version (churn promote --version N) or run model-deployment",
        ) from None


def _qualified(ctx: JobContext, name: str) -> str:
    return name if "." in name else ctx.table(name)


def _spec(ctx: JobContext, champion: ModelVersionInfo, params: Params) -> Any:
    import mlflow

    from churn_model import load_feature_spec
    from churn_monitoring import MonitorSpec

    feature_spec = load_feature_spec(champion.uri)
    info = mlflow.models.get_model_info(champion.uri)
    threshold = float((info.metadata or {}).get("threshold", 0.5))
    signature = dict(ctx.spark.table(_features_table(feature_spec)).dtypes)
    names = list(feature_spec.feature_names)
    numeric = tuple(n for n in names if signature.get(n) in NUMERIC_TYPES)
    categorical = tuple(n for n in names if n not in numeric)
    return MonitorSpec(
        numeric=numeric,
        categorical=categorical,
        threshold=threshold,
        probability=PROBABILITY,
        label=LABEL,
        slices=tuple(params.slices),
        charges="monthly_charges" if "monthly_charges" in names else None,
        max_grid=params.max_grid,
    )


NUMERIC_TYPES = {"int", "bigint", "smallint", "tinyint", "double", "float"}


def _features_table(feature_spec: Any) -> str:
    return str(feature_spec.lookups[0].table_name)


def _scored_rows(ctx: JobContext, predictions: str, version: str, params: Params) -> DataFrame:
    from pyspark.sql import functions as F

    from churn_monitoring import with_windows

    spark = ctx.spark
    fix = "run model-inference-batch first (churn run model-inference-batch)"
    if not spark.catalog.tableExists(predictions):
        raise UserError(f"The predictions table {predictions} does not exist yet.", fix)
    rows = spark.table(predictions)
    needed = {KEY, PROBABILITY, "model_version", "scoring_date"}
    if missing := sorted(needed - set(rows.columns)):
        raise UserError(
            f"{predictions} has no column(s) {missing}: it is not a table of scored rows.",
            "point predictions_table at the output of model-inference-batch",
        )
    mine = rows.where((F.col("model_version") == version) & F.col(PROBABILITY).isNotNull())
    if mine.limit(1).count() == 0:
        raise UserError(
            f"{predictions} has no scored rows of the champion (version {version}).", fix
        )
    features_table = ctx.table(ctx.runtime.tables.features)
    labels_table = ctx.table(ctx.runtime.tables.labels)
    features = spark.table(features_table)
    wanted = [c for c in features.columns if c not in mine.columns or c == KEY]
    joined = mine.join(features.select(*wanted), KEY, "left")
    if spark.catalog.tableExists(labels_table):
        labels = spark.table(labels_table).select(KEY, F.col(LABEL).alias(LABEL))
        joined = (
            joined.drop(LABEL).join(labels, KEY, "left")
            if LABEL in joined.columns
            else (joined.join(labels, KEY, "left"))
        )
    else:
        joined = joined.withColumn(LABEL, F.lit(None).cast("int"))
    return with_windows(joined, "scoring_date", params.granularity)


def _baseline(
    ctx: JobContext,
    champion: ModelVersionInfo,
    spec: MonitorSpec,
    predictions: str,
    step: Callable[[str], None],
) -> tuple[Baseline, bool]:
    """The champion's baseline, and whether it was kept from an earlier run.

    It is kept in ``<predictions>_monitor_baseline`` under a fingerprint of the spec, the model
    version and the Delta versions of the rows it summarises: a scheduled run then reads one
    row instead of reading the training rows, scoring the reference customers and summarising
    both."""
    from churn_monitoring import summarise_baseline
    from churn_monitoring.baseline import decode, encode, fingerprint
    from churn_monitoring.tables import baseline_table_name, keep_baseline, read_kept_baseline

    versions = _training_versions(ctx, champion)
    reference_table = ctx.table(ctx.runtime.tables.reference)
    reference_version = _reference_version(ctx, champion, reference_table)
    key = fingerprint(
        spec,
        model=champion.name,
        version=str(champion.version),
        tables={**versions, reference_table: reference_version},
    )
    table = baseline_table_name(predictions)
    step(f"looking for the champion's baseline in {table}")
    encoded = read_kept_baseline(ctx.spark, table, key)
    if encoded is not None:
        try:
            return decode(encoded), True
        except ValueError:  # unreadable (written by hand?): summarised and kept again below
            pass
    step("reading the champion's training rows at their recorded Delta versions")
    rows, features = _baseline_rows(ctx, champion, versions)
    step("scoring the held-out reference customers (the prediction-drift baseline)")
    prediction_rows = _prediction_baseline(ctx, champion, features, reference_version)
    rows, prediction_rows = rows.persist(), prediction_rows.persist()
    step(f"summarising the baseline and keeping it in {table}")
    try:
        baseline = summarise_baseline(rows, spec, prediction_rows)
    finally:
        rows.unpersist()
        prediction_rows.unpersist()
    keep_baseline(ctx.spark, table, key, str(champion.version), encode(baseline))
    return baseline, False


def _training_versions(ctx: JobContext, champion: ModelVersionInfo) -> dict[str, int]:
    """The Delta versions of the features and labels tables recorded on the model version."""
    versions = {}
    for table in (ctx.table(ctx.runtime.tables.features), ctx.table(ctx.runtime.tables.labels)):
        tag = f"delta_version_{table.replace('.', '_')}"
        value = champion.tags.get(tag)
        if value is None or not value.isdigit():
            raise UserError(
                f"{champion.name} v{champion.version} records no Delta version of {table} "
                f"(tag {tag}), so its training rows cannot be found.",
                "retrain with model-train (it records the versions) and promote that version",
            )
        versions[table] = int(value)
    return versions


def _reference_version(ctx: JobContext, champion: ModelVersionInfo, table: str) -> int | None:
    """The reference table's version recorded on the model version, else (a champion trained
    before it was recorded: reference customers are never trained on) the version the last
    completed refresh left."""
    from churn_features.tables import table_version

    recorded = champion.tags.get(f"delta_version_{table.replace('.', '_')}", "")
    if recorded.isdigit():
        return int(recorded)
    snapshot = table_snapshot(ctx).version(table)
    return snapshot if snapshot is not None else table_version(ctx.spark, table)


def _baseline_rows(
    ctx: JobContext, champion: ModelVersionInfo, versions: dict[str, int]
) -> tuple[DataFrame, DataFrame]:
    """The champion's training rows (labels joined with features), and the features table, both
    at the Delta versions recorded on the model version."""
    spark = ctx.spark
    features_table = ctx.table(ctx.runtime.tables.features)
    labels_table = ctx.table(ctx.runtime.tables.labels)
    try:
        labels = spark.sql(f"SELECT * FROM {labels_table} VERSION AS OF {versions[labels_table]}")
        features = spark.sql(
            f"SELECT * FROM {features_table} VERSION AS OF {versions[features_table]}"
        )
        training = labels.join(features, KEY, "inner")
        training.limit(1).count()  # time travel fails here, before anything is written
    except Exception as exc:  # AnalysisException or the JVM's VersionNotFound
        text = str(exc)
        if "version" not in text.lower() and "does not exist" not in text.lower():
            raise
        raise UserError(
            f"The champion's training rows are gone: {labels_table} v{versions[labels_table]} "
            f"/ {features_table} v{versions[features_table]} cannot be read "
            f"({text.splitlines()[0][:200]}).",
            "raise delta.logRetentionDuration / deletedFileRetentionDuration on these tables, "
            "or retrain so the baseline is a version that still exists",
        ) from None
    return training, features


def _prediction_baseline(
    ctx: JobContext,
    champion: ModelVersionInfo,
    features: DataFrame,
    reference_version: int | None,
) -> DataFrame:
    """The champion's scores on the held-out reference customers (features as it was trained):
    the baseline of the prediction drift. Its scores on its own training rows would be more
    confident than on anyone new, so every new window would look like prediction drift."""
    from churn_features.store.delta import DeltaFeatureStore
    from churn_features.tables import read_version
    from churn_scoring.score import score_batch

    table = ctx.table(ctx.runtime.tables.reference)
    reference = (
        read_version(ctx.spark, table, reference_version)
        if reference_version is not None
        else table_snapshot(ctx).read(table)  # missing: says so
    )
    rows = reference.select(KEY).distinct().join(features, KEY, "inner")
    scored = score_batch(ctx.spark, champion.uri, rows, DeltaFeatureStore(ctx.spark))
    return rows.join(scored.select(KEY, PROBABILITY), KEY, "inner")


def _windows_to_compute(scored: DataFrame, existing: Any) -> tuple[list[datetime], int]:
    """Windows with no profile yet, or whose row or label count changed since."""
    from pyspark.sql import functions as F

    from churn_monitoring.metrics import TABLE
    from churn_monitoring.tables import window_key

    counts = (
        scored.groupBy("window_start")
        .agg(F.count(F.lit(1)).alias("rows"), F.count(LABEL).alias("labelled"))
        .collect()
    )
    done: dict[str, tuple[float, float]] = {}
    if len(existing):
        table = existing[(existing["column_name"] == TABLE) & existing["slice_key"].isna()]
        for _, row in table.iterrows():
            done[row["window_key"]] = (
                float(row["row_count"] or 0),
                float(row["labelled_count"] or 0),
            )
    todo = [
        r["window_start"]
        for r in counts
        if done.get(window_key(r["window_start"])) != (float(r["rows"]), float(r["labelled"]))
    ]
    return sorted(todo), len(counts)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value and value != "-" else None


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else "-"


# --- MLflow run -----------------------------------------------------------------------------------


def _log_run(
    ctx: JobContext,
    params: Params,
    run_id: str,
    champion: ModelVersionInfo,
    profile: Any,
    drift: Any,
    decision: Decision,
    result: MonitorResult | None,
) -> str | None:
    import mlflow
    import yaml

    mlflow.set_tags(
        {
            "job": "model-monitoring",
            "environment": ctx.runtime.environment,
            "model_version": str(champion.version),
            "verdict": decision.status,
            "policy_fired": str(decision.fire).lower(),
            "drifting_features": ",".join(decision.drifting)[:5000] or "-",
            "window": _iso(decision.window_start),
        }
    )
    mlflow.log_text(yaml.safe_dump(params.policy.model_dump(mode="json")), "policy.yaml")
    mlflow.log_dict(
        {
            "fire": decision.fire,
            "window_start": _iso(decision.window_start),
            "drifting": decision.drifting,
            "reasons": decision.reasons,
            "windows": [
                {"window_start": _iso(v.window_start), "judged": v.judged, "reasons": v.reasons}
                for v in decision.verdicts
            ],
        },
        "verdict.json",
    )
    ctx.mlflow.log_batch(run_id, metrics=_run_metrics(profile, drift))
    if not params.report:
        return None
    from churn_jobs.monitoring_report import write_report

    with tempfile.TemporaryDirectory() as tmp:
        path = write_report(
            Path(tmp) / "monitoring_report.html", champion, profile, drift, decision, result
        )
        mlflow.log_artifact(str(path), "report")
    return f"{mlflow.get_artifact_uri('report')}/monitoring_report.html"


def _run_metrics(profile: Any, drift: Any) -> list[Any]:
    """The run's metrics: the whole-table profile of each window (step: the window's place) and
    the last window's drift statistics against the baseline. Logged in one batch: one call to
    the tracking server instead of one per window and one per column and statistic (about 60)."""
    from mlflow.entities import Metric

    from churn_monitoring.metrics import TABLE

    now = int(time.time() * 1000)
    metrics = []
    overall = profile[(profile["column_name"] == TABLE) & profile["slice_key"].isna()]
    for step, (_, row) in enumerate(overall.sort_values("window_start").iterrows()):
        for name in ("row_count", "predicted_positive_rate", "expected_loss", "roc_auc", "ece"):
            if (value := _finite(row.get(name))) is not None:
                metrics.append(Metric(name, value, now, step))
    baseline_drift = drift[drift["slice_key"].isna() & (drift["drift_type"] == "BASELINE")]
    latest = baseline_drift[baseline_drift["window_start"] == baseline_drift["window_start"].max()]
    for _, row in latest.iterrows():
        for stat in ("psi", "js_distance", "wasserstein_normalized"):
            if (value := _finite(row.get(stat))) is not None:
                metrics.append(Metric(f"{stat}.{row['column_name'].lstrip(':')}", value, now, 0))
    return metrics


def _finite(value: Any) -> float | None:
    return None if value is None or math.isnan(float(value)) else float(value)


def render(ctx: JobContext, summary: MonitoringSummary) -> None:
    table = Table(title="model-monitoring", show_header=False, title_justify="left")
    table.add_row("model", f"{summary.model_name} v{summary.model_version}")
    table.add_row(
        "windows",
        f"{len(summary.windows_computed)} computed now, {summary.windows_total} in total",
    )
    colour = {"ok": "green", "drift": "red"}.get(summary.status, "yellow")
    table.add_row("status", f"[{colour}]{summary.status}[/]")
    table.add_row("drifting features", ", ".join(summary.drifting) or "-")
    for reason in summary.reasons[:6]:
        table.add_row("", reason)
    table.add_row("retraining", ", ".join(summary.retrain_runs) if summary.fired else "not started")
    table.add_row("monitoring run", summary.run_id)
    if summary.baseline == "kept":
        table.add_row("baseline", f"kept by an earlier run, read from {summary.baseline_table}")
    elif summary.baseline == "computed":
        table.add_row("baseline", f"summarised from the rows, kept in {summary.baseline_table}")
    if summary.report_path:
        table.add_row("report", summary.report_path)
    ctx.console.print(table)
