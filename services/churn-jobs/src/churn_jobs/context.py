"""What a running job gets: its settings, a SparkSession, MLflow, the feature store, a console.

Locally everything comes from ``LocalPlatform`` under ``CHURN_HOME``; on Databricks the cluster's
SparkSession and the workspace's MLflow (Unity Catalog registry when a catalog is set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from churn_jobs.local_platform import LocalPlatform, churn_home
from churn_jobs.settings import RuntimeSettings
from churn_local_spark import SQL_SETTINGS  # every job needs them, on Databricks too

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from pyspark.sql import SparkSession

    from churn_features.store.base import FeatureStore


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
        from churn_features.identifiers import quote_identifier

        spark.sql(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.runtime.database)}")
        return spark

    @cached_property
    def mlflow(self) -> MlflowClient:
        """An MlflowClient on the environment's tracking server and registry (configured once)."""
        import mlflow

        if (local := self.local) is not None:
            local.configure_mlflow()
        else:
            mlflow.set_tracking_uri("databricks")
            mlflow.set_registry_uri("databricks-uc" if self.runtime.catalog else "databricks")
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
