"""What a running job gets: its settings, a SparkSession, MLflow, the feature store, a console.

Locally everything comes from ``LocalPlatform`` under ``CHURN_HOME``; on Databricks the cluster's
SparkSession and the workspace's MLflow (Unity Catalog registry when a catalog is set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from churn_jobs.errors import UserError
from churn_jobs.local_platform import LocalPlatform, churn_home
from churn_jobs.settings import RuntimeSettings
from churn_local_spark import SQL_SETTINGS  # every job needs them, on Databricks too

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from pyspark.sql import SparkSession

    from churn_features.store.base import FeatureStore


def on_databricks_cluster() -> bool:
    """Databricks Runtime sets this variable on every cluster node."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def tracking_uris(runtime: RuntimeSettings, *, on_cluster: bool) -> tuple[str, str]:
    """MLflow tracking and registry URIs of a Databricks environment.

    On a cluster, plain ``databricks`` is the cluster's own workspace. Off it (``churn promote
    --env prod`` at a terminal), plain ``databricks`` would be the DEFAULT profile or DATABRICKS_*
    variables, not the environment's: use ``databricks://<profile>`` / ``databricks-uc://<profile>``.
    """
    suffix = (
        f"://{runtime.workspace_profile}" if runtime.workspace_profile and not on_cluster else ""
    )
    registry = "databricks-uc" if runtime.catalog else "databricks"
    return f"databricks{suffix}", f"{registry}{suffix}"


def require_schema(spark: SparkSession, runtime: RuntimeSettings) -> None:
    """Jobs never CREATE SCHEMA on Unity Catalog (that needs CREATE SCHEMA on the catalog even when
    the schema exists); deploy creates it. Here only check it is there and visible."""
    if spark.catalog.databaseExists(runtime.database):
        return
    catalog = runtime.catalog or "the session's catalog"
    raise UserError(
        f"Schema {runtime.database} does not exist, or this job's principal cannot see it.",
        f"deploy the environment (`churn-infra deploy {runtime.environment}` creates its "
        f"schemas), and grant the job's principal USE CATALOG on {catalog} and USE SCHEMA, "
        f"SELECT and MODIFY on {runtime.database}",
    )


@dataclass
class JobContext:
    runtime: RuntimeSettings
    console: Console = field(default_factory=Console)
    home: Path = field(default_factory=churn_home)

    @property
    def local(self) -> LocalPlatform | None:
        return LocalPlatform(self.home) if self.runtime.platform == "local" else None

    @cached_property
    def spark(self) -> SparkSession:
        if (local := self.local) is not None:
            spark = local.spark()
        else:
            from pyspark.sql import SparkSession

            spark = SparkSession.builder.getOrCreate()
        for key, value in SQL_SETTINGS.items():
            spark.conf.set(key, value)
        if self.local is not None:
            # the local platform's own setup: this process owns the whole metastore
            from churn_features.identifiers import quote_identifier

            spark.sql(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.runtime.database)}")
        else:
            require_schema(spark, self.runtime)
        return spark

    @cached_property
    def mlflow(self) -> MlflowClient:
        """An MlflowClient on the environment's tracking server and registry (configured once)."""
        import mlflow

        if (local := self.local) is not None:
            local.configure_mlflow()
        else:
            tracking, registry = tracking_uris(self.runtime, on_cluster=on_databricks_cluster())
            mlflow.set_tracking_uri(tracking)
            mlflow.set_registry_uri(registry)
            if not on_databricks_cluster():
                # a person at a terminal: say which workspace before anything changes there
                self.console.print(
                    f"[bold]{self.runtime.environment}[/]: MLflow tracking {tracking}, "
                    f"registry {registry}",
                    highlight=False,
                )
        return mlflow.MlflowClient()

    def use_experiment(self) -> str:
        """Create (with local artifacts under CHURN_HOME) and activate the experiment."""
        import mlflow

        client = self.mlflow
        name = self.runtime.experiment
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            location = self.local.artifact_location(name) if self.local else None
            experiment_id = client.create_experiment(name, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    @cached_property
    def feature_store(self) -> FeatureStore:
        if self.runtime.platform == "databricks" and self.runtime.catalog:
            from churn_features.store.databricks import DatabricksFeatureStore

            return DatabricksFeatureStore()
        from churn_features.store.delta import DeltaFeatureStore

        return DeltaFeatureStore(self.spark)

    def table(self, short_name: str) -> str:
        return self.runtime.table(short_name)
