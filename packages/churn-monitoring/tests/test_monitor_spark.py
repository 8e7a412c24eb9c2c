"""The Spark aggregation gives the same summaries as numpy; the monitor tables are idempotent."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from churn_monitoring import (
    BASELINE,
    CONSECUTIVE,
    BusinessParams,
    MonitorSpec,
    monitor,
    summarise_baseline,
)
from churn_monitoring.aggregate import (
    OVERALL,
    baseline_grids,
    performance_cells,
    profile_cells,
    summarise,
    with_windows,
)
from churn_monitoring.histograms import categorical_counts, grid_from_values, numeric_histogram
from churn_monitoring.metrics import TABLE
from churn_monitoring.performance import metrics, performance_counts
from churn_monitoring.stattests import get_stattest
from churn_monitoring.tables import (
    DRIFT_SCHEMA,
    PROFILE_SCHEMA,
    WINDOW_KEY,
    read_monitor_rows,
    to_frame,
    write_monitor_rows,
)

SPEC = MonitorSpec(
    numeric=("tenure", "monthly_charges"),
    categorical=("contract", "internet_service"),
    threshold=0.5,
    slices=("contract", "senior_citizen"),
)


def frame(n: int, seed: int, shift: float = 0.0, day: date | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    charges = np.round(rng.uniform(18, 120, n) + shift * 30, 2)
    charges[rng.uniform(0, 1, n) < 0.02] = np.nan
    contract = rng.choice(
        ["Month-to-month", "One year", "Two year"],
        n,
        p=[0.5 + shift * 0.3, 0.3 - shift * 0.2, 0.2 - shift * 0.1],
    ).astype(object)
    contract[:3] = None
    p = np.round(np.clip(rng.beta(2, 5, n) + shift * 0.2, 0, 1), 4)
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i}" for i in range(n)],
            "tenure": rng.integers(0, 73, n),
            "monthly_charges": charges,
            "contract": contract,
            "internet_service": rng.choice(["DSL", "Fiber optic", "No"], n),
            "senior_citizen": rng.integers(0, 2, n),
            "churn_probability": p,
            "churn": np.where(
                rng.uniform(0, 1, n) < 0.7, (rng.uniform(0, 1, n) < p).astype(float), np.nan
            ),
            "scoring_date": day or date(2026, 1, 1),
        }
    )


def test_spark_summaries_equal_numpy(spark) -> None:
    base = frame(3000, 1)
    cur = frame(2000, 2, shift=0.5)
    baseline_df = spark.createDataFrame(base)
    grids = baseline_grids(baseline_df, SPEC.numeric_columns, max_grid=5000)
    for c in SPEC.numeric_columns:  # few distinct values: the grid is every baseline value
        expected = np.unique(base[c].dropna().to_numpy(float))
        np.testing.assert_array_equal(grids[c], expected)

    current_df = with_windows(spark.createDataFrame(cur), "scoring_date", "1 day")
    cells = profile_cells(current_df, SPEC, grids)
    perf = performance_cells(current_df, SPEC)
    got = summarise(cells, perf, SPEC, grids)
    window = datetime(2026, 1, 1)
    overall = got[(window, *OVERALL)]
    for c in SPEC.numeric_columns:
        want = numeric_histogram(cur[c].to_numpy(float), grids[c])
        have = overall.columns[c]
        np.testing.assert_array_equal(have.points, want.points)
        np.testing.assert_array_equal(have.cells, want.cells)
        np.testing.assert_allclose(have.cell_sums, want.cell_sums, rtol=1e-12)
        assert have.nulls == want.nulls
        assert have.std == pytest.approx(want.std, rel=1e-9)
    assert overall.columns["contract"] == categorical_counts(cur["contract"].to_numpy())
    assert overall.row_count == len(cur)
    assert overall.predicted_positive_rate == pytest.approx(
        (cur["churn_probability"] >= 0.5).mean()
    )
    lab = cur[cur["churn"].notna()]
    want_perf = metrics(performance_counts(lab["churn"], lab["churn_probability"], 0.5))
    for key, value in metrics(overall.performance).items():
        assert value == pytest.approx(want_perf[key], abs=1e-9), key

    one_year = got[(window, "contract", "One year")]
    part = cur[cur["contract"] == "One year"]
    assert one_year.row_count == len(part)
    np.testing.assert_array_equal(
        one_year.columns["tenure"].points,
        numeric_histogram(part["tenure"].to_numpy(float), grids["tenure"]).points,
    )
    assert (window, "senior_citizen", "1") in got

    quantiles = baseline_grids(baseline_df, ["monthly_charges"], max_grid=100)["monthly_charges"]
    assert 90 <= len(quantiles) <= 100
    assert quantiles[-1] == base["monthly_charges"].max()


@pytest.mark.parametrize("distinct", [200, 201])
def test_the_grid_is_chosen_on_the_exact_distinct_count_like_numpy(spark, distinct) -> None:
    """At max_grid distinct values the grid is every value, however rare; one more and it is
    quantiles. Skewed counts make the two differ: quantiles skip the rare values."""
    values = np.arange(distinct, dtype=float) / 4
    repeats = np.where(np.arange(distinct) < 10, 500, 1)  # ten common values, the rest rare
    column = np.repeat(values, repeats)
    grid = baseline_grids(spark.createDataFrame(pd.DataFrame({"x": column})), ["x"], 200)["x"]
    expected = grid_from_values(column, 200)
    if distinct <= 200:
        np.testing.assert_array_equal(grid, values)
        np.testing.assert_array_equal(expected, values)
    else:
        assert len(grid) < distinct
        assert set(grid) <= set(values)
        assert len(expected) < distinct


def test_monitor_rows_and_drift_detected(spark) -> None:
    base = frame(3000, 1)
    windows = pd.concat(
        [frame(1500, 10, day=date(2026, 1, 1)), frame(1500, 11, shift=0.6, day=date(2026, 1, 2))]
    )
    scored = with_windows(spark.createDataFrame(windows), "scoring_date", "1 day")
    exact_grid = replace(SPEC, max_grid=5000)  # every baseline value on the grid: KS is exact
    result = monitor(
        spark.createDataFrame(base),
        scored,
        exact_grid,
        granularity="1 day",
        model_version="3",
        business=BusinessParams(horizon_months=12),
    )
    drift, profile = result.drift, result.profile
    assert set(drift["drift_type"]) == {BASELINE, CONSECUTIVE}
    first, second = datetime(2026, 1, 1), datetime(2026, 1, 2)
    overall = drift[drift["slice_key"].isna() & (drift["drift_type"] == BASELINE)]
    charges = overall[overall["column_name"] == "monthly_charges"].set_index("window_start")
    assert charges.loc[first, "psi"] < 0.1
    assert charges.loc[second, "psi"] > 0.2
    assert charges.loc[second, "wasserstein_normalized"] > 0.1
    exact = get_stattest("ks").compute(
        numeric_histogram(base["monthly_charges"], np.unique(base["monthly_charges"].dropna())),
        numeric_histogram(
            windows[windows["scoring_date"] == date(2026, 1, 2)]["monthly_charges"],
            np.unique(base["monthly_charges"].dropna()),
        ),
    )
    assert charges.loc[second, "ks_statistic"] == pytest.approx(exact.statistic, abs=1e-12)
    consecutive = drift[(drift["drift_type"] == CONSECUTIVE) & drift["slice_key"].isna()]
    assert set(consecutive["window_start"]) == {second}
    table = profile[(profile["column_name"] == TABLE) & profile["slice_key"].isna()]
    day2 = windows[windows["scoring_date"] == date(2026, 1, 2)]
    expected_loss = np.nansum(day2["churn_probability"] * day2["monthly_charges"]) * 12
    assert table.set_index("window_start").loc[second, "expected_loss"] == pytest.approx(
        expected_loss
    )
    assert {"contract", "senior_citizen"} <= set(profile["slice_key"].dropna())


def test_tables_are_replaced_per_window_never_duplicated(spark) -> None:
    # summarised once, as model-monitoring keeps it: every monitor call below reuses it
    base = summarise_baseline(spark.createDataFrame(frame(800, 1)), SPEC)
    days = pd.concat([frame(300, 20, day=date(2026, 2, d)) for d in (1, 2, 3)])
    scored = with_windows(spark.createDataFrame(days), "scoring_date", "1 day")
    spark.sql("CREATE DATABASE IF NOT EXISTS mon")
    for _ in range(2):
        result = monitor(base, scored, SPEC, granularity="1 day", model_version="1")
        for table, rows, schema in (
            ("mon.p_profile_metrics", result.profile, PROFILE_SCHEMA),
            ("mon.p_drift_metrics", result.drift, DRIFT_SCHEMA),
        ):
            write_monitor_rows(
                spark,
                table,
                rows,
                schema,
                model_version="1",
                granularity="1 day",
                windows=result.windows,
            )
    stored = read_monitor_rows(spark, "mon.p_profile_metrics", "1", "1 day")
    assert len(stored) == len(result.profile)
    # one window again, alone: only its rows are replaced
    only = monitor(
        base, scored, SPEC, granularity="1 day", model_version="1", windows=[datetime(2026, 2, 2)]
    )
    write_monitor_rows(
        spark,
        "mon.p_profile_metrics",
        only.profile,
        PROFILE_SCHEMA,
        model_version="1",
        granularity="1 day",
        windows=only.windows,
    )
    again = read_monitor_rows(spark, "mon.p_profile_metrics", "1", "1 day")
    assert len(again) == len(stored)
    assert (
        again.groupby("window_key").size().to_dict()
        == stored.groupby("window_key").size().to_dict()
    )
    drift = read_monitor_rows(spark, "mon.p_drift_metrics", "1", "1 day")
    assert drift["unseen_categories"].notna().any()


def test_monitor_rows_keep_their_values_and_utc_windows_in_any_local_time_zone(
    spark, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor's naive timestamps are UTC. A driver whose machine is in another zone stores
    the same instants: window_start, in the session's UTC, is the window's key."""
    rows = pd.DataFrame(
        {
            "window_start": [datetime(2026, 2, 1), datetime(2026, 2, 2)],
            "window_end": [datetime(2026, 2, 2), datetime(2026, 2, 3)],
            "granularity": ["1 day", "1 day"],
            "model_version": ["7", "7"],
            "column_name": ["contract", "tenure"],
            "slice_key": [None, "contract"],
            "slice_value": [None, "One year"],
            "drift_type": [BASELINE, CONSECUTIVE],
            "comparison_window_start": [None, datetime(2026, 2, 1)],
            "js_distance": [0.25, np.nan],
            "unseen_categories": [["Three year"], None],
        }
    )
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        frame = to_frame(spark, rows, DRIFT_SCHEMA)
        got = (
            frame.selectExpr(
                "date_format(window_start, \"yyyy-MM-dd'T'HH:mm:ss\") AS start",
                "date_format(comparison_window_start, \"yyyy-MM-dd'T'HH:mm:ss\") AS before",
                "*",
            )
            .orderBy("start")
            .collect()
        )
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [(r.start, r[WINDOW_KEY], r.before) for r in got] == [
        ("2026-02-01T00:00:00", "2026-02-01T00:00:00", None),
        ("2026-02-02T00:00:00", "2026-02-02T00:00:00", "2026-02-01T00:00:00"),
    ]
    assert [(r.slice_key, r.slice_value, r.drift_type) for r in got] == [
        (None, None, BASELINE),
        ("contract", "One year", CONSECUTIVE),
    ]
    assert [r.js_distance for r in got] == [0.25, None]  # NaN is null, as Spark aggregates give
    assert [r.unseen_categories for r in got] == [["Three year"], None]
    assert all(r.computed_at is not None for r in got)
