"""Featurization: pure ``DataFrame -> DataFrame`` functions on validated, typed rows.

Engineered features (documented in the package README):

- ``num_services``: how many of the 9 services the customer subscribes to (phone, multiple lines,
  internet, and the six internet add-ons). More services means more switching cost.
- ``avg_monthly_charge``: ``total_charges / tenure`` (``monthly_charges`` when tenure is 0); set
  against ``monthly_charges`` it shows a recent price change.
- ``log_tenure``: ``ln(1 + tenure)``; churn risk falls fastest in the first months.
- ``tenure_bucket``: ``0-1y``, ``1-2y``, ``2-4y``, ``4y+`` (tenure in months: [0,12), [12,24),
  [24,48), [48, ...)).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from churn_features.contract import FEATURE_COLUMNS, KEY, LABEL

ADD_ON_SERVICES = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)


def _subscribed(column: str) -> Column:
    return F.when(F.col(column) == "Yes", 1).otherwise(0)


def add_engineered_features(typed: DataFrame) -> DataFrame:
    """Add ``num_services``, ``avg_monthly_charge``, ``log_tenure`` and ``tenure_bucket``."""
    services = (
        F.when(F.col("phone_service") == "Yes", 1).otherwise(0)
        + _subscribed("multiple_lines")
        + F.when(F.col("internet_service") != "No", 1).otherwise(0)
    )
    for column in ADD_ON_SERVICES:
        services = services + _subscribed(column)
    tenure = F.col("tenure")
    return (
        typed.withColumn("num_services", services.cast("int"))
        .withColumn(
            "avg_monthly_charge",
            F.when(tenure > 0, F.col("total_charges") / tenure)
            .otherwise(F.col("monthly_charges"))
            .cast("double"),
        )
        .withColumn("log_tenure", F.log1p(tenure.cast("double")))
        .withColumn(
            "tenure_bucket",
            F.when(tenure < 12, "0-1y")
            .when(tenure < 24, "1-2y")
            .when(tenure < 48, "2-4y")
            .otherwise("4y+"),
        )
    )


def build_features(typed: DataFrame) -> DataFrame:
    """The ``churn_features`` rows: the key and the contract's feature columns, in order."""
    return add_engineered_features(typed).select(KEY, *FEATURE_COLUMNS)


def build_labels(typed: DataFrame) -> DataFrame:
    """The labels: ``customer_id`` and ``churn`` (0/1)."""
    return typed.select(KEY, F.col(LABEL).cast("int").alias(LABEL))
