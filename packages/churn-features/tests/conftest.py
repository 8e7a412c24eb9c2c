"""One local Spark session with Delta for the whole test session (in-memory catalog: fast)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.store.delta import DeltaFeatureStore
from churn_local_spark import local_spark


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    session = local_spark(
        "churn-features-tests", warehouse_dir=tmp_path_factory.mktemp("warehouse")
    )
    yield session
    session.stop()


@pytest.fixture
def database(spark: SparkSession, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database per test, dropped afterwards."""
    name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:60].lower()
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
    spark.sql(f"CREATE DATABASE {name}")
    yield name
    spark.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.fixture
def store(spark: SparkSession) -> DeltaFeatureStore:
    return DeltaFeatureStore(spark)


GOOD_ROW = {
    "customerID": "0001-AAAAA",
    "gender": "Female",
    "SeniorCitizen": "0",
    "Partner": "Yes",
    "Dependents": "No",
    "tenure": "12",
    "PhoneService": "Yes",
    "MultipleLines": "No",
    "InternetService": "Fiber optic",
    "OnlineSecurity": "No",
    "OnlineBackup": "Yes",
    "DeviceProtection": "No",
    "TechSupport": "No",
    "StreamingTV": "Yes",
    "StreamingMovies": "No",
    "Contract": "Month-to-month",
    "PaperlessBilling": "Yes",
    "PaymentMethod": "Electronic check",
    "MonthlyCharges": "80.50",
    "TotalCharges": "966.00",
    "Churn": "Yes",
}


def raw_row(**overrides: str) -> dict[str, str]:
    row = dict(GOOD_ROW)
    row.update(overrides)
    return row


def write_csv(
    path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = RAW_COLUMN_NAMES
) -> Path:
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def rows_of(df: DataFrame, *columns: str) -> list[tuple[object, ...]]:
    return sorted(tuple(r[c] for c in columns) for r in df.collect())


@dataclass(frozen=True)
class FeatureLookup:
    """Any object with the fields of the store's ``Lookup`` protocol will do; the jobs pass
    churn-model's ``FeatureLookup``, which this package does not depend on."""

    table_name: str
    lookup_key: Sequence[str] = ("customer_id",)
    feature_names: Sequence[str] | None = None
