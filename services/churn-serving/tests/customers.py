"""(Same generator as churn-model's tests: members are tested alone, so it is not shared.)

A seeded synthetic customer frame with the feature contract's columns (pandas only).

Churn follows the patterns of the real IBM Telco data (month-to-month, fiber, electronic check
and short tenure raise it) so metrics are meaningful but the tests need no file and no Spark.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES

ADD_ONS = (
    "online_security",
    "online_backup",
    "device_protection",
    "tech_support",
    "streaming_tv",
    "streaming_movies",
)


def make_customers(n: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    choice = lambda values, p=None: rng.choice(np.array(values, dtype=object), size=n, p=p)  # noqa: E731
    contract = choice(["Month-to-month", "One year", "Two year"], [0.55, 0.21, 0.24])
    internet = choice(["DSL", "Fiber optic", "No"], [0.34, 0.44, 0.22])
    phone = choice(["Yes", "No"], [0.9, 0.1])
    payment = choice(
        [
            "Electronic check",
            "Mailed check",
            "Bank transfer (automatic)",
            "Credit card (automatic)",
        ]
    )
    tenure = np.where(
        contract == "Month-to-month", rng.integers(0, 40, n), rng.integers(0, 73, n)
    ).astype(np.int64)
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{seed:02d}-{i:05d}" for i in range(n)],
            "senior_citizen": rng.binomial(1, 0.16, n).astype(np.int64),
            "tenure": tenure,
            "gender": choice(["Female", "Male"]),
            "partner": choice(["Yes", "No"]),
            "dependents": choice(["Yes", "No"], [0.3, 0.7]),
            "phone_service": phone,
            "multiple_lines": np.where(phone == "Yes", choice(["Yes", "No"]), "No phone service"),
            "internet_service": internet,
            "contract": contract,
            "paperless_billing": choice(["Yes", "No"], [0.6, 0.4]),
            "payment_method": payment,
        }
    )
    for column in ADD_ONS:
        frame[column] = np.where(internet == "No", "No internet service", choice(["Yes", "No"]))
    services = (
        (phone == "Yes").astype(int)
        + (frame["multiple_lines"] == "Yes").astype(int)
        + (internet != "No").astype(int)
        + sum((frame[c] == "Yes").astype(int) for c in ADD_ONS)
    )
    monthly = (
        20.0
        + 25.0 * (internet == "DSL")
        + 50.0 * (internet == "Fiber optic")
        + 5.0 * services
        + rng.normal(0, 3, n)
    ).round(2)
    frame["monthly_charges"] = monthly
    frame["total_charges"] = (monthly * tenure * rng.uniform(0.95, 1.05, n)).round(2)
    frame["num_services"] = services.astype(np.int64)
    frame["avg_monthly_charge"] = np.where(
        tenure > 0, frame["total_charges"] / np.maximum(tenure, 1), monthly
    )
    frame["log_tenure"] = np.log1p(tenure)
    frame["tenure_bucket"] = pd.cut(
        tenure, [-1, 11, 23, 47, 10_000], labels=["0-1y", "1-2y", "2-4y", "4y+"]
    ).astype(object)
    logit = (
        -1.6
        + 1.3 * (contract == "Month-to-month")
        - 0.9 * (contract == "Two year")
        + 0.9 * (internet == "Fiber optic")
        + 0.6 * (payment == "Electronic check")
        - 0.6 * frame["log_tenure"]
        + 0.4 * frame["senior_citizen"]
        + 1.2
    )
    churn = rng.binomial(1, 1.0 / (1.0 + np.exp(-logit)))
    columns = ["customer_id", *DEFAULT_NUMERIC_FEATURES, *DEFAULT_CATEGORICAL_FEATURES]
    return frame[columns], pd.Series(churn, name="churn", dtype=np.int64)
