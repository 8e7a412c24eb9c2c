"""Default feature lists: the columns of the ``churn_features`` table (churn-features' contract).

churn-model does not depend on churn-features (it must install without pyspark), so the lists are
repeated here; a cross-package test in the workspace proves both agree.
"""

DEFAULT_NUMERIC_FEATURES: tuple[str, ...] = (
    "senior_citizen",
    "tenure",
    "monthly_charges",
    "total_charges",
    "num_services",
    "avg_monthly_charge",
    "log_tenure",
)

DEFAULT_CATEGORICAL_FEATURES: tuple[str, ...] = (
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

LABEL_COLUMN = "churn"
KEY_COLUMN = "customer_id"
