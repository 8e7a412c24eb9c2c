"""The data contracts: the raw IBM Telco columns and the feature columns this package produces.

The raw layer is read as strings with an explicit schema built from the file's header (so every
column lands where its header says, and nothing is inferred); each raw column's rule below then
decides how it is typed and validated. The feature lists are what the model config consumes; a
cross-package test proves the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pyspark.sql.types import StringType, StructField, StructType

ColumnKind = Literal["id", "int", "double", "category", "label"]

YES_NO = ("Yes", "No")
NO_INTERNET = ("Yes", "No", "No internet service")


@dataclass(frozen=True)
class RawColumn:
    """One column of the raw file: its header, its feature name and how it is validated."""

    raw_name: str
    name: str
    kind: ColumnKind
    allowed: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None


RAW_COLUMNS: tuple[RawColumn, ...] = (
    RawColumn("customerID", "customer_id", "id"),
    RawColumn("gender", "gender", "category", ("Female", "Male")),
    RawColumn("SeniorCitizen", "senior_citizen", "int", minimum=0, maximum=1),
    RawColumn("Partner", "partner", "category", YES_NO),
    RawColumn("Dependents", "dependents", "category", YES_NO),
    RawColumn("tenure", "tenure", "int", minimum=0, maximum=120),
    RawColumn("PhoneService", "phone_service", "category", YES_NO),
    RawColumn("MultipleLines", "multiple_lines", "category", ("Yes", "No", "No phone service")),
    RawColumn("InternetService", "internet_service", "category", ("DSL", "Fiber optic", "No")),
    RawColumn("OnlineSecurity", "online_security", "category", NO_INTERNET),
    RawColumn("OnlineBackup", "online_backup", "category", NO_INTERNET),
    RawColumn("DeviceProtection", "device_protection", "category", NO_INTERNET),
    RawColumn("TechSupport", "tech_support", "category", NO_INTERNET),
    RawColumn("StreamingTV", "streaming_tv", "category", NO_INTERNET),
    RawColumn("StreamingMovies", "streaming_movies", "category", NO_INTERNET),
    RawColumn("Contract", "contract", "category", ("Month-to-month", "One year", "Two year")),
    RawColumn("PaperlessBilling", "paperless_billing", "category", YES_NO),
    RawColumn(
        "PaymentMethod",
        "payment_method",
        "category",
        (
            "Electronic check",
            "Mailed check",
            "Bank transfer (automatic)",
            "Credit card (automatic)",
        ),
    ),
    RawColumn("MonthlyCharges", "monthly_charges", "double", minimum=0.0, maximum=10_000.0),
    # Blank for brand-new customers (tenure 0): imputed to 0.0, see validation.py.
    RawColumn("TotalCharges", "total_charges", "double", minimum=0.0, maximum=1_000_000.0),
    RawColumn("Churn", "churn", "label", YES_NO),
)

RAW_COLUMN_NAMES: tuple[str, ...] = tuple(c.raw_name for c in RAW_COLUMNS)
KEY = "customer_id"
LABEL = "churn"

#: The raw schema of a file whose header is exactly the contract's columns: all strings.
RAW_SCHEMA = StructType([StructField(name, StringType(), True) for name in RAW_COLUMN_NAMES])

#: Numeric feature columns of ``churn_features`` (see the package README for their meaning).
NUMERIC_FEATURES: tuple[str, ...] = (
    "senior_citizen",
    "tenure",
    "monthly_charges",
    "total_charges",
    "num_services",
    "avg_monthly_charge",
    "log_tenure",
)

#: Categorical feature columns of ``churn_features`` (raw string values).
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "gender",
    "partner",
    "dependents",
    "phone_service",
    "multiple_lines",
    "internet_service",
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
    "contract",
    "paperless_billing",
    "payment_method",
    "tenure_bucket",
)

FEATURE_COLUMNS: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
