"""Small real pyfunc models for the tests: a sklearn churn pipeline and deliberately broken ones.

Not fakes of our code: they are genuine MLflow models, logged and loaded through MLflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

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


class SklearnChurn(PythonModel):
    """A fitted sklearn pipeline whose pyfunc `predict` returns the churn probability."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def predict(self, context, model_input, params=None):
        return self.pipeline.predict_proba(model_input)[:, 1]


def fit_pipeline(features: list[str], df: pd.DataFrame, y: np.ndarray) -> Pipeline:
    numeric = [f for f in features if f != "contract"]
    parts: list = [("num", StandardScaler(), numeric)]
    if "contract" in features:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), ["contract"]))
    pipe = Pipeline([("prep", ColumnTransformer(parts)), ("clf", LogisticRegression(max_iter=500))])
    return pipe.fit(df, y)


class Broken(PythonModel):
    """Probability-like output broken in one way: nan | raw | random | two_columns."""

    def __init__(self, how: str) -> None:
        self.how = how

    def predict(self, context, model_input, params=None):
        n = len(model_input)
        z = (model_input["monthly_charges"].to_numpy(dtype=float) - 60) / 10
        p = 1 / (1 + np.exp(-z))
        if self.how == "nan":
            p[::4] = np.nan
        elif self.how == "raw":
            return z  # a logit, not a probability
        elif self.how == "random":
            return np.random.default_rng().random(n)
        elif self.how == "two_columns":
            return np.column_stack([1 - p, p])
        return p
