"""A seeded generator of synthetic raw customers drawn from the real data's distributions.

For load tests, benchmarks and the monitoring scenario (``generate_monthly_cohorts``): rows are
drawn with replacement from the vendored file, so every
categorical combination (and its churn rate) keeps the real joint distribution; tenure and charges
are jittered so rows are not copies, and each customer gets a new unique id. The output has the
raw contract's columns as strings, exactly like the IBM file, so it goes through ingest as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
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


# --- a time-ordered scenario: monthly cohorts, late labels, and a drift from a given month -------


@dataclass(frozen=True)
class DriftScenario:
    """What changes from ``start_month`` on (months count from 1).

    Fiber customers get a price increase (``MonthlyCharges`` x (1 + ``fiber_price_increase``))
    and some of them churn because of it (a non-churner becomes a churner with probability
    ``fiber_churn_uplift``); month-to-month contracts become more common (sampled with weight
    ``month_to_month_weight`` relative to other contracts, each row keeping its own labels), so
    churn rises.
    """

    start_month: int = 3
    fiber_price_increase: float = 0.25
    fiber_churn_uplift: float = 0.15
    month_to_month_weight: float = 2.5


COHORT_MONTH = "cohort_month"
LABEL_AVAILABLE_ON = "label_available_on"


def _add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    return date(day.year + index // 12, index % 12 + 1, 1)


def generate_monthly_cohorts(
    months: int,
    customers_per_month: int,
    *,
    seed: int = 0,
    drift: DriftScenario | None = None,
    start: date = date(2026, 1, 1),
    label_delay_months: int = 1,
) -> pd.DataFrame:
    """Raw customers (the raw contract's string columns) in monthly cohorts, oldest first, with
    ``cohort_month`` (first day of the month they are scored) and ``label_available_on`` (when
    their churn label is known: ``label_delay_months`` later). Ids are unique across months."""
    base = read_vendored_pandas()
    month_to_month = (base["Contract"] == "Month-to-month").to_numpy()
    frames = []
    for month in range(1, months + 1):
        rng = np.random.default_rng([seed, month])
        drifting = drift is not None and month >= drift.start_month
        source = base
        if drifting:
            assert drift is not None
            weights = np.where(month_to_month, drift.month_to_month_weight, 1.0)
            picks = rng.choice(len(base), size=len(base), p=weights / weights.sum())
            source = base.iloc[picks].reset_index(drop=True)
        cohort = generate_raw_customers(customers_per_month, seed=seed * 1000 + month, base=source)
        if drifting:
            assert drift is not None
            fiber = (cohort["InternetService"] == "Fiber optic").to_numpy()
            monthly = pd.to_numeric(cohort["MonthlyCharges"]).to_numpy()
            raised = np.round(
                np.where(fiber, monthly * (1 + drift.fiber_price_increase), monthly), 2
            )
            tenure = pd.to_numeric(cohort["tenure"]).to_numpy()
            cohort["MonthlyCharges"] = [f"{v:.2f}" for v in raised]
            cohort["TotalCharges"] = np.where(
                tenure == 0, " ", [f"{v:.2f}" for v in np.round(raised * tenure, 2)]
            )
            flip = fiber & (cohort["Churn"] == "No").to_numpy()
            flip &= rng.uniform(0, 1, len(cohort)) < drift.fiber_churn_uplift
            cohort.loc[flip, "Churn"] = "Yes"
        cohort["customerID"] = [f"M{month:02d}S{seed:03d}-{i:07d}" for i in range(len(cohort))]
        month_start = _add_months(start, month - 1)
        cohort[COHORT_MONTH] = month_start
        cohort[LABEL_AVAILABLE_ON] = _add_months(month_start, label_delay_months)
        frames.append(cohort)
    return pd.concat(frames, ignore_index=True)
