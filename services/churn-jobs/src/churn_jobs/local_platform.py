"""The local environment: Spark + Delta Lake + MLflow on SQLite, all under ``CHURN_HOME``.

This is the only place that builds a SparkSession or points MLflow somewhere; libraries receive
what they need as arguments. On Databricks the cluster provides both (see ``runtime.py``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_HOME = ".churn"


def churn_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the root of every local store: explicit > ``$CHURN_HOME`` > ``./.churn``."""
    raw = explicit or os.environ.get("CHURN_HOME") or DEFAULT_HOME
    return Path(raw).expanduser().resolve()


@dataclass(frozen=True)
class LocalPlatform:
    """Paths of the local stores; all of them live below ``home``."""

    home: Path

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "spark-warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.home / "metastore_db"

    @property
    def mlflow_db(self) -> Path:
        return self.home / "mlflow.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    def configure_mlflow(self) -> str:
        """Point MLflow tracking and registry at the SQLite store; returns the tracking URI."""
        import mlflow

        self.home.mkdir(parents=True, exist_ok=True)
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        return self.tracking_uri

    def artifact_location(self, experiment: str) -> str:
        """Artifacts of a new experiment go to disk under ``home`` (not to ``./mlruns``)."""
        safe = experiment.strip("/").replace("/", "__") or "default"
        return (self.artifacts_dir / safe).as_uri()

    def spark(
        self,
        master: str = "local[*]",
        app_name: str = "churn",
        driver_memory: str = "4g",
        shuffle_partitions: int = 4,
        ui: bool = False,
    ) -> SparkSession:
        """A Delta-enabled SparkSession with a persistent Hive (Derby) metastore under ``home``.

        The Delta jars are resolved from Maven Central on first start and cached in ``~/.ivy2``.
        """
        from delta import configure_spark_with_delta_pip
        from pyspark.sql import SparkSession

        self.home.mkdir(parents=True, exist_ok=True)
        # Python workers must run this interpreter, or UDFs cannot import pandas/sklearn.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        derby_home = f"-Dderby.system.home={self.home}"
        builder = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.memory", driver_memory)
            .config("spark.driver.extraJavaOptions", derby_home)
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.default.parallelism", str(shuffle_partitions))
            .config("spark.ui.enabled", str(ui).lower())
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config(
                "spark.sql.catalog.spark_catalog",
                "org.apache.spark.sql.delta.catalog.DeltaCatalog",
            )
            .config("spark.sql.warehouse.dir", str(self.warehouse_dir))
            .config(
                "spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={self.metastore_dir};create=true",
            )
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.pyspark.python", sys.executable)
            .config("spark.python.worker.reuse", "true")
            .config("spark.databricks.delta.snapshotPartitions", "2")
            .config("spark.sql.adaptive.enabled", "true")
            # Constraint propagation blows up (OOM in the optimizer) on wide derived projections
            # such as the validation and feature columns; see runtime.SQL_SETTINGS.
            .config("spark.sql.constraintPropagation.enabled", "false")
            .enableHiveSupport()
        )
        spark = configure_spark_with_delta_pip(builder).getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        return spark
