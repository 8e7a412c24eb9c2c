"""A seeded generator of synthetic raw customers drawn from the real data's distributions.

For load tests and benchmarks: rows are drawn with replacement from the vendored file, so every
categorical combination (and its churn rate) keeps the real joint distribution; tenure and charges
are jittered so rows are not copies, and each customer gets a new unique id. The output has the
raw contract's columns as strings, exactly like the IBM file, so it goes through ingest as is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from churn_features.contract import RAW_COLUMN_NAMES
from churn_features.dataset import vendored_csv_path


def read_vendored_pandas() -> pd.DataFrame:
    """The vendored file as raw strings (no type inference), for generators and small tools."""
    return pd.read_csv(vendored_csv_path(), dtype=str, keep_default_na=False)


def generate_raw_customers(n: int, seed: int = 0, base: pd.DataFrame | None = None) -> pd.DataFrame:
    """``n`` synthetic raw rows (strings, the raw contract's columns) drawn from ``base``."""
    rng = np.random.default_rng(seed)
    source = (base if base is not None else read_vendored_pandas()).reset_index(drop=True)
    picked = source.iloc[rng.integers(0, len(source), size=n)].reset_index(drop=True)

    tenure = pd.to_numeric(picked["tenure"]).to_numpy()
    tenure = np.clip(tenure + rng.integers(-3, 4, size=n), 0, 72)
    monthly = pd.to_numeric(picked["MonthlyCharges"]).to_numpy()
    monthly = np.round(np.clip(monthly * rng.normal(1.0, 0.03, size=n), 18.0, 120.0), 2)
    total = np.round(monthly * tenure * rng.uniform(0.9, 1.05, size=n), 2)

    out = picked.copy()
    out["customerID"] = [f"SYN{seed:03d}-{i:08d}" for i in range(n)]
    out["tenure"] = tenure.astype(str)
    out["MonthlyCharges"] = [f"{v:.2f}" for v in monthly]
    # New customers have no charges yet: the real file leaves TotalCharges blank for them.
    out["TotalCharges"] = np.where(tenure == 0, " ", [f"{v:.2f}" for v in total])
    return out[list(RAW_COLUMN_NAMES)]


def write_raw_csv(path: str | Path, n: int, seed: int = 0, chunk_rows: int = 250_000) -> Path:
    """Write ``n`` synthetic customers as a raw CSV (in chunks, to bound memory)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    base = read_vendored_pandas()
    with target.open("w", encoding="utf-8", newline="") as handle:
        for start in range(0, n, chunk_rows):
            size = min(chunk_rows, n - start)
            chunk = generate_raw_customers(size, seed=seed * 1_000_003 + start, base=base)
            chunk["customerID"] = [f"SYN{seed:03d}-{start + i:08d}" for i in range(size)]
            chunk.to_csv(handle, header=start == 0, index=False)
    return target
