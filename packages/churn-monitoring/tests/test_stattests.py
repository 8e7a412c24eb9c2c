"""Every kernel against scipy on the same raw data, through the summaries the monitor keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from churn_monitoring.histograms import (
    categorical_counts,
    empty_numeric,
    grid_from_values,
    numeric_histogram,
)
from churn_monitoring.stattests import (
    PSI_EPSILON,
    get_stattest,
    register_stattest,
    stattests,
    unseen_categories,
)

RNG = np.random.default_rng(7)


def summaries(baseline: np.ndarray, current: np.ndarray, max_grid: int = 1000):
    grid = grid_from_values(baseline, max_grid)
    return numeric_histogram(baseline, grid), numeric_histogram(current, grid)


def numeric_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    return [
        (
            "integers",
            RNG.integers(0, 73, 3000).astype(float),
            RNG.integers(5, 80, 2000).astype(float),
        ),
        ("continuous, small", RNG.normal(0, 1, 400), RNG.normal(0.3, 1.2, 300)),
        (
            "shifted charges",
            np.round(RNG.uniform(18, 120, 900), 2),
            np.round(RNG.uniform(25, 125, 700), 2),
        ),
        ("equal", np.arange(50.0), np.arange(50.0)),
    ]


@pytest.mark.parametrize(("name", "a", "b"), numeric_cases())
def test_ks_matches_scipy_exactly_when_the_grid_holds_every_baseline_value(name, a, b) -> None:
    base, cur = summaries(a, b)
    result = get_stattest("ks").compute(base, cur)
    expected = stats.ks_2samp(a, b, method="asymp")
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12), name
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-9), name


def test_ks_on_a_quantile_grid_is_within_one_cell() -> None:
    a, b = RNG.normal(0, 1, 20000), RNG.normal(0.05, 1, 20000)
    base, cur = summaries(a, b, max_grid=200)
    d = get_stattest("ks").compute(base, cur).statistic
    exact = stats.ks_2samp(a, b).statistic
    assert d <= exact + 1e-12
    assert exact - d <= 2 / 200


@pytest.mark.parametrize(("name", "a", "b"), numeric_cases())
def test_wasserstein_normalised_matches_scipy_on_shared_support(name, a, b) -> None:
    base, cur = summaries(a, b)
    value = get_stattest("wasserstein").compute(base, cur).statistic
    expected = stats.wasserstein_distance(a, b) / max(np.std(a), 1e-3)
    if name in ("integers", "equal"):  # every value of both sides sits on a grid point
        assert value == pytest.approx(expected, abs=1e-9)
    else:  # a cell's mass at its mean: close, not exact
        assert value == pytest.approx(expected, abs=0.02)


def psi_reference(a: np.ndarray, b: np.ndarray, bins: int = 10) -> float:
    """PSI straight from raw values: baseline deciles (inverted CDF), (q_{j-1}, q_j] bins."""
    edges = np.unique(np.quantile(a, np.arange(1, bins) / bins, method="inverted_cdf"))
    pa = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1) / len(a)
    pb = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    pa = np.where(pa == 0, PSI_EPSILON, pa)
    pb = np.where(pb == 0, PSI_EPSILON, pb)
    return float(np.sum((pb - pa) * np.log(pb / pa)))


@pytest.mark.parametrize(("name", "a", "b"), numeric_cases())
def test_psi_matches_the_raw_definition(name, a, b) -> None:
    base, cur = summaries(a, b)
    assert get_stattest("psi").compute(base, cur).statistic == pytest.approx(
        psi_reference(a, b), abs=1e-9
    )


def test_psi_empties_a_bin_with_smoothing_and_stays_finite() -> None:
    a = np.arange(100.0)
    b = np.full(50, 5.0)  # everything in one decile
    base, cur = summaries(a, b)
    value = get_stattest("psi").compute(base, cur).statistic
    assert math.isfinite(value)
    assert value == pytest.approx(psi_reference(a, b), abs=1e-9)
    assert value > 1


CATEGORIES = ["Month-to-month", "One year", "Two year"]


def categorical_case():
    a = RNG.choice(CATEGORIES, 5000, p=[0.55, 0.25, 0.2])
    b = np.concatenate([RNG.choice(CATEGORIES, 3000, p=[0.7, 0.2, 0.1]), ["Weekly"] * 40])
    return a, b


def test_categorical_kernels_match_scipy() -> None:
    a, b = categorical_case()
    base, cur = categorical_counts(a), categorical_counts(b)
    keys = sorted(set(a) | set(b))
    ca = np.array([np.sum(a == k) for k in keys], float)
    cb = np.array([np.sum(b == k) for k in keys], float)
    chi = get_stattest("chisquare").compute(base, cur)
    expected = stats.chi2_contingency(np.vstack([ca, cb]), correction=False)
    assert chi.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert chi.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    pa, pb = ca / ca.sum(), cb / cb.sum()
    js = get_stattest("jensenshannon").compute(base, cur).statistic
    assert js == pytest.approx(jensenshannon(pa, pb), abs=1e-9)
    assert get_stattest("tvd").compute(base, cur).statistic == pytest.approx(
        0.5 * np.abs(pa - pb).sum(), abs=1e-12
    )
    assert get_stattest("linf").compute(base, cur).statistic == pytest.approx(
        np.abs(pa - pb).max(), abs=1e-12
    )
    assert unseen_categories(base, cur) == ["Weekly"]


def test_empty_sides_give_nan_not_errors() -> None:
    grid = grid_from_values([1.0, 2.0, 3.0])
    full, empty = numeric_histogram([1.0, 2.0, 3.0], grid), empty_numeric(grid)
    for test in stattests("numeric"):
        result = test.compute(full, empty)
        assert math.isnan(result.statistic), test.name
        assert test.drifted(result) is None
    nothing = categorical_counts([None, ""])
    assert nothing.nulls == 2
    for test in stattests("categorical"):
        assert math.isnan(test.compute(categorical_counts(["a"]), nothing).statistic), test.name


def test_single_valued_columns() -> None:
    a, b = np.full(100, 3.0), np.full(80, 3.0)
    base, cur = summaries(a, b)
    ks = get_stattest("ks").compute(base, cur)
    assert ks.statistic == 0.0
    assert ks.p_value == pytest.approx(stats.ks_2samp(a, b, method="asymp").pvalue, abs=1e-12)
    assert get_stattest("wasserstein").compute(base, cur).statistic == 0.0
    assert get_stattest("psi").compute(base, cur).statistic == 0.0
    moved = numeric_histogram(np.full(80, 4.0), base.grid)
    # baseline std is 0: normalised by the 0.001 floor, so one unit is a huge drift
    assert get_stattest("wasserstein").compute(base, moved).statistic == pytest.approx(1000.0)
    chi = get_stattest("chisquare").compute(
        categorical_counts(["x"] * 5), categorical_counts(["x"])
    )
    assert (chi.statistic, chi.p_value) == (0.0, 1.0)


def test_nulls_and_nan_are_counted_apart() -> None:
    grid = grid_from_values([1.0, 2.0])
    h = numeric_histogram([1.0, np.nan, 2.0, 2.5], grid)
    assert (h.count, h.nulls) == (3, 1)
    assert h.mean == pytest.approx(5.5 / 3)
    assert h.std == pytest.approx(np.std([1.0, 2.0, 2.5]))


def test_registry_has_named_kernels_with_defaults_and_accepts_new_ones() -> None:
    assert {t.name for t in stattests()} >= {
        "psi",
        "ks",
        "wasserstein",
        "chisquare",
        "jensenshannon",
        "tvd",
        "linf",
    }
    assert get_stattest("psi").default_threshold == 0.2
    assert get_stattest("jensenshannon").default_threshold == 0.1
    with pytest.raises(KeyError, match="no stattest"):
        get_stattest("nope")
    from churn_monitoring.stattests import StatTest, TestResult

    mean_shift = StatTest(
        "mean_shift",
        ("numeric",),
        1.0,
        "above",
        lambda b, c: TestResult(abs(c.mean - b.mean)),  # type: ignore[union-attr]
    )
    register_stattest(mean_shift)
    base, cur = summaries(np.zeros(10), np.full(10, 2.0))
    result = get_stattest("mean_shift").compute(base, cur)
    assert mean_shift.drifted(result) is True
