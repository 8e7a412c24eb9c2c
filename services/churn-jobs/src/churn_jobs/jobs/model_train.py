"""model-train: labels + feature lookups -> trained pipeline -> MLflow run -> registered version.

The training set is built from ``churn_labels`` only (``churn_reference`` is never read here),
through the feature store's lookups, so the logged feature spec is exactly what scoring needs.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from rich.table import Table

from churn_jobs.context import JobContext
from churn_jobs.lineage import lineage_tags
from churn_jobs.progress import steps
from churn_jobs.settings import StrictModel

LABEL = "churn"
KEY = "customer_id"


class Params(StrictModel):
    model: dict[str, Any] = Field(
        description="A churn-model ModelConfig: estimator, features, threshold, split, tuning."
    )
    register_model: bool = True
    plots: bool = True

    @field_validator("model")
    @classmethod
    def _valid_model_config(cls, value: dict[str, Any]) -> dict[str, Any]:
        from churn_model import model_config_from_mapping

        model_config_from_mapping(value, source="model-train parameters `model`")
        return value


@dataclass(frozen=True)
class TrainSummary:
    run_id: str
    model_name: str
    version: str | None
    model_uri: str
    test_metrics: dict[str, float]
    train_rows: int
    test_rows: int


def run(ctx: JobContext, params: Params) -> TrainSummary:
    import mlflow

    from churn_features.store.base import FeatureLookup
    from churn_features.tables import table_version
    from churn_model import FeatureSpec, log_model, model_config_from_mapping, train

    config = model_config_from_mapping(params.model, source="model-train parameters `model`")
    features_table = ctx.table(ctx.runtime.tables.features)
    labels_table = ctx.table(ctx.runtime.tables.labels)
    feature_names = list(config.features.numeric) + list(config.features.categorical)

    with steps(ctx.console, "model-train") as step:
        step("starting Spark and MLflow")
        spark = ctx.spark
        ctx.use_experiment()
        step(f"building the training set from {labels_table} + lookups on {features_table}")
        from churn_features.errors import FeatureTableError

        if not spark.catalog.tableExists(labels_table):
            raise FeatureTableError(
                f"The labels table {labels_table} does not exist.\n"
                "  fix: run the feature-table-refresh job first (churn run feature-table-refresh)"
            )
        table_versions = {
            labels_table: table_version(spark, labels_table),
            features_table: ctx.feature_store.table_version(features_table),
        }
        lookup = FeatureLookup(features_table, (KEY,), tuple(feature_names))
        # The labels exactly at the version recorded in the tags, even if a refresh commits now.
        labels = spark.sql(
            f"SELECT * FROM {labels_table} VERSION AS OF {table_versions[labels_table]}"
        )
        training_set = ctx.feature_store.create_training_set(labels, [lookup], label=LABEL)
        # Sorted by key: Spark's join order is not deterministic, a seeded split must be.
        frame = training_set.toPandas().sort_values(KEY, kind="stable").reset_index(drop=True)

        step(f"training {config.estimator.kind} on {len(frame):,} labelled customers")
        result = train(frame[feature_names], frame[LABEL], config)
        if result.test_metrics is None:
            from churn_jobs.errors import UserError

            raise UserError(
                "model-train needs a test split to report test metrics.",
                "set model.split.test_size > 0 in the model-train parameters",
            )
        test_metrics = result.test_metrics.as_flat_dict()

        step("logging the run, plots and model to MLflow")
        tags = lineage_tags(table_versions)
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
            registered_name = ctx.runtime.registered_model_name if params.register_model else None
            spec = FeatureSpec.for_table(features_table, feature_names, label=LABEL)
            info = log_model(
                result.pipeline,
                result.config,
                feature_spec=spec,
                input_example=result.X_train,
                registered_model_name=registered_name,
            )
            run_id = active.info.run_id
        version = str(info.registered_model_version) if params.register_model else None
        if version is not None:
            step(f"tagging {ctx.runtime.registered_model_name} version {version}")
            from churn_registry_ops.tags import metric_tags

            client = ctx.mlflow
            version_tags = {
                **tags,
                "training_run_id": run_id,
                "estimator_kind": config.estimator.kind,
                **metric_tags({f"test_{k}": v for k, v in test_metrics.items()}),
            }
            for key, value in version_tags.items():
                client.set_model_version_tag(ctx.runtime.registered_model_name, version, key, value)

    summary = TrainSummary(
        run_id=run_id,
        model_name=ctx.runtime.registered_model_name,
        version=version,
        model_uri=info.model_uri,
        test_metrics=test_metrics,
        train_rows=len(result.X_train),
        test_rows=len(result.X_test),
    )
    render(ctx, summary, config.estimator.model_dump())
    return summary


def _plots(result: Any, out_dir: Path) -> list[Path]:
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
