"""model-train: labels + feature lookups -> trained pipeline -> MLflow run -> registered version.

The training set is built from ``churn_labels`` only (``churn_reference`` is never read here),
through the feature store's lookups, so the logged feature spec is exactly what scoring needs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.lineage import lineage_tags
from churn_jobs.progress import steps
from churn_jobs.settings import StrictModel
from churn_jobs.snapshots import table_snapshot
from churn_model.config import ModelConfig, model_config_from_mapping

if TYPE_CHECKING:
    import pandas as pd

    from churn_model import TrainResult

LABEL = "churn"
KEY = "customer_id"
#: what the job imports after Spark has started: the runner imports them meanwhile (preload.py)
PRELOAD = (
    "churn_model.training",
    "mlflow",
    "churn_model.mlflow_model",
    "skops.io",
    "matplotlib.pyplot",
    "sklearn.calibration",
    "sklearn.metrics",
)


class Params(StrictModel):
    model: ModelConfig = Field(
        description="A churn-model ModelConfig: estimator, features, threshold, split, tuning."
    )
    register_model: bool = True
    plots: bool = True

    @field_validator("model", mode="before")
    @classmethod
    def _parse_model_config(cls, value: Any) -> Any:
        # churn-model's own parser: its ModelConfigError names the field and the fix.
        if isinstance(value, ModelConfig):
            return value
        return model_config_from_mapping(value, source="model-train parameters `model`")


@dataclass(frozen=True)
class TrainSummary:
    run_id: str
    model_name: str
    version: str | None
    model_uri: str
    test_metrics: dict[str, float]
    train_rows: int
    test_rows: int


@dataclass(frozen=True)
class TrainingSet:
    """The labelled rows with their looked-up features, and the table versions they come from."""

    frame: pd.DataFrame
    table_versions: dict[str, int | None]


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    model_uri: str
    version: str | None


def run(ctx: JobContext, params: Params) -> TrainSummary:
    config = params.model
    features_table = ctx.table(ctx.runtime.tables.features)
    labels_table = ctx.table(ctx.runtime.tables.labels)

    with steps(ctx.console, "model-train") as step:
        step("starting Spark and MLflow")
        spark = ctx.spark
        ctx.use_experiment()
        step(f"building the training set from {labels_table} + lookups on {features_table}")
        training_set = build_training_set(ctx, spark, config, labels_table, features_table)
        step(f"training {config.estimator.kind} on {len(training_set.frame):,} labelled customers")
        result, test_metrics = fit(training_set.frame, config)
        step("logging the run, plots and model to MLflow")
        tags = lineage_tags(training_set.table_versions)
        logged = log_run(ctx, params, result, test_metrics, tags, features_table)
        if params.register_model:
            step(f"registering a version of {ctx.runtime.registered_model_name} with its lineage")
            logged = register_version(ctx, logged, config, test_metrics, tags)

    summary = TrainSummary(
        run_id=logged.run_id,
        model_name=ctx.runtime.registered_model_name,
        version=logged.version,
        model_uri=logged.model_uri,
        test_metrics=test_metrics,
        train_rows=len(result.X_train),
        test_rows=len(result.X_test),
    )
    render(ctx, summary, config.estimator.model_dump())
    return summary


def build_training_set(
    ctx: JobContext, spark: Any, config: ModelConfig, labels_table: str, features_table: str
) -> TrainingSet:
    """Labels and features exactly as the last completed refresh left them (a refresh that is
    running or was killed half-way is never mixed in), joined by key."""
    from churn_features.errors import FeatureTableError
    from churn_model.feature_spec import FeatureLookup

    if not spark.catalog.tableExists(labels_table):
        raise FeatureTableError(
            f"The labels table {labels_table} does not exist.\n"
            "  fix: run the feature-table-refresh job first (churn run feature-table-refresh)"
        )
    snapshot = table_snapshot(ctx)
    reference_table = ctx.table(ctx.runtime.tables.reference)
    table_versions = {
        labels_table: snapshot.version(labels_table),
        features_table: snapshot.version(features_table),
        # not read here: recorded so monitoring scores the held-out set of the same refresh
        reference_table: snapshot.version(reference_table),
    }
    lookup = FeatureLookup(
        table_name=features_table, lookup_key=[KEY], feature_names=config.features.columns
    )
    labels = snapshot.read(labels_table)
    joined = ctx.feature_store.create_training_set(
        labels, [lookup], label=LABEL, as_of=snapshot.versions
    )
    # Sorted by key: Spark's join order is not deterministic, a seeded split must be.
    frame = joined.toPandas().sort_values(KEY, kind="stable").reset_index(drop=True)
    return TrainingSet(frame=frame, table_versions=table_versions)


def fit(frame: pd.DataFrame, config: ModelConfig) -> tuple[TrainResult, dict[str, float]]:
    """Train on the frame's feature columns; the test metrics are required (they are logged)."""
    from churn_model import train

    result = train(frame[config.features.columns], frame[LABEL], config)
    if result.test_metrics is None:
        from churn_jobs.errors import UserError

        raise UserError(
            "model-train needs a test split to report test metrics.",
            "set model.split.test_size > 0 in the model-train parameters",
        )
    return result, result.test_metrics.as_flat_dict()


def log_run(
    ctx: JobContext,
    params: Params,
    result: TrainResult,
    test_metrics: dict[str, float],
    tags: dict[str, str],
    features_table: str,
) -> LoggedRun:
    """One MLflow run: tags, params, metrics, config, plots and the model (not registered)."""
    import mlflow

    from churn_model import FeatureSpec, log_model

    with mlflow.start_run(run_name="model-train") as active:
        mlflow.set_tags({**tags, "job": "model-train", "environment": ctx.runtime.environment})
        mlflow.log_params(_flat_params(result.config.model_dump(mode="json")))
        mlflow.log_metrics(result.train_metrics.as_flat_dict("train_"))
        mlflow.log_metrics({f"test_{k}": v for k, v in test_metrics.items()})
        mlflow.log_text(result.config.to_yaml(), "config/model_config.yaml")
        if params.plots:
            with tempfile.TemporaryDirectory() as tmp:
                for path in _plots(result, Path(tmp)):
                    mlflow.log_artifact(str(path), "plots")
        spec = FeatureSpec.for_table(features_table, result.config.features.columns, label=LABEL)
        info = log_model(
            result.pipeline, result.config, feature_spec=spec, input_example=result.X_train
        )
        run_id = active.info.run_id
    return LoggedRun(run_id=run_id, model_uri=info.model_uri, version=None)


def register_version(
    ctx: JobContext,
    logged: LoggedRun,
    config: ModelConfig,
    test_metrics: dict[str, float],
    tags: dict[str, str],
) -> LoggedRun:
    """A new version of the logged model, created with its tags (lineage, the training run, the
    estimator, the test metrics) in one registry call: no reader, such as a validation job that
    new versions trigger, ever sees the version without them, and it costs one call instead of
    one per tag (each a round trip to the registry, which MLflow's client precedes with a read
    of the registered model)."""
    import mlflow

    from churn_registry_ops.tags import metric_tags

    version_tags = {
        **tags,
        "training_run_id": logged.run_id,
        "estimator_kind": config.estimator.kind,
        **metric_tags({f"test_{k}": v for k, v in test_metrics.items()}),
    }
    created = mlflow.register_model(
        logged.model_uri, ctx.runtime.registered_model_name, tags=version_tags
    )
    return replace(logged, version=str(created.version))


def _plots(result: TrainResult, out_dir: Path) -> list[Path]:
    from churn_jobs.plots import write_diagnostic_plots

    return write_diagnostic_plots(
        result.pipeline, result.X_test, result.y_test, result.config.threshold, out_dir
    )


def _flat_params(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat_params(value, f"{name}."))
        else:
            flat[name] = str(value)[:500]
    return flat


def render(ctx: JobContext, summary: TrainSummary, estimator: dict[str, Any]) -> None:
    table = Table(title="model-train", show_header=False, title_justify="left")
    table.add_row("estimator", ", ".join(f"{k}={v}" for k, v in estimator.items()))
    table.add_row("run id", summary.run_id)
    table.add_row(
        "registered", f"{summary.model_name} v{summary.version}" if summary.version else "no"
    )
    table.add_row("train / test rows", f"{summary.train_rows:,} / {summary.test_rows:,}")
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "f1"):
        if name in summary.test_metrics:
            table.add_row(f"test {name}", f"{summary.test_metrics[name]:.4f}")
    ctx.console.print(table)
