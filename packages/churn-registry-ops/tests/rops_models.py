"""Synthetic Telco-like customers for the tests, and the feature contract they satisfy."""

from __future__ import annotations

import numpy as np
import pandas as pd

CONTRACT = {
    "senior_citizen": "long",
    "tenure": "long",
    "monthly_charges": "double",
    "contract": "string",
}
CONTRACTS = ["Month-to-month", "One year", "Two year"]


def make_customers(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Telco-like rows whose churn depends on tenure, contract and charges."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "senior_citizen": rng.integers(0, 2, n).astype("int64"),
            "tenure": rng.integers(0, 72, n).astype("int64"),
            "monthly_charges": rng.uniform(20, 110, n).round(2),
            "contract": rng.choice(CONTRACTS, n, p=[0.55, 0.25, 0.2]),
        }
    )
    z = (
        -0.5
        - 0.06 * df["tenure"]
        + 0.025 * (df["monthly_charges"] - 60)
        + 1.6 * (df["contract"] == "Month-to-month")
        + 0.4 * df["senior_citizen"]
    )
    labels = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("int64")
    return df, np.asarray(labels)
