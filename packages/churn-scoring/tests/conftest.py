"""One local Spark + Delta session, one MLflow SQLite store, one small feature table and model."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from churn_features.refresh import RefreshTables, refresh_feature_tables
from churn_features.store.delta import DeltaFeatureStore
from churn_features.synthetic import generate_raw_customers
from churn_local_spark import local_spark

DATABASE = "scoring_tests"
MODEL_NAME = "churn-scoring-test"
CUSTOMERS = 1500


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark(
        "churn-scoring-tests",
        warehouse_dir=tmp_path_factory.mktemp("warehouse"),
        # Small batches: several batches per partition exercise the per-worker model cache.
        conf={"spark.sql.execution.arrow.maxRecordsPerBatch": "500"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real local MLflow tracking + registry store (SQLite) with artifacts under tmp."""
    import mlflow

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("churn-scoring-tests", artifact_location=str(root / "a"))
    mlflow.set_experiment(experiment_id=experiment)
    yield uri
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@dataclass(frozen=True)
class World:
    """The feature tables and registered models every scoring test uses."""

    tables: RefreshTables
    raw_csv: Path
    model_uri: str  # models:/<name>@champion
    champion_version: str
    no_spec_model_uri: str


@pytest.fixture(scope="session")
def store(spark: SparkSession) -> DeltaFeatureStore:
    return DeltaFeatureStore(spark)


@pytest.fixture(scope="session")
def world(
    spark: SparkSession,
    store: DeltaFeatureStore,
    mlflow_store: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> World:
    import mlflow
    from mlflow import MlflowClient

    from churn_model import FeatureSpec, log_model, model_config_from_mapping, train

    raw_csv = tmp_path_factory.mktemp("raw") / "customers.csv"
    generate_raw_customers(CUSTOMERS, seed=11).to_csv(raw_csv, index=False)
    tables = RefreshTables(
        bronze=f"{DATABASE}.bronze",
        quarantine=f"{DATABASE}.quarantine",
        features=f"{DATABASE}.churn_features",
        labels=f"{DATABASE}.churn_labels",
        reference=f"{DATABASE}.churn_reference",
    )
    refresh_feature_tables(spark, store, tables, source=raw_csv)

    training = spark.table(tables.features).join(spark.table(tables.labels), "customer_id")
    frame = training.toPandas()
    config = model_config_from_mapping(
        {
            "estimator": {"kind": "random_forest", "n_estimators": 40, "max_depth": 8},
            "threshold": 0.4,
        }
    )
    result = train(frame, frame["churn"], config)
    spec = FeatureSpec.for_table(tables.features, config.features.columns)
    with mlflow.start_run():
        for _ in range(2):  # versions 1 and 2; the champion alias points at 2
            log_model(
                result.pipeline,
                result.config,
                feature_spec=spec,
                input_example=result.X_train,
                registered_model_name=MODEL_NAME,
            )
        no_spec = log_model(result.pipeline, result.config, input_example=result.X_train)
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", "2")
    return World(
        tables=tables,
        raw_csv=raw_csv,
        model_uri=f"models:/{MODEL_NAME}@champion",
        champion_version="2",
        no_spec_model_uri=no_spec.model_uri,
    )
