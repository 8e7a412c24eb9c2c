"""Drift kernels: named, registered statistical tests on two summaries (baseline, current).

Like Evidently's ``stattests``, each kernel has a name, the column kind it applies to, a default
threshold and the direction of drift; ``get_stattest(name)`` finds one and
``register_stattest`` adds another. Every kernel reads aggregated summaries only
(``churn_monitoring.histograms``), never rows; an empty side gives NaN, not an error.

Definitions (checked against scipy in the tests):

- ``psi``: population stability index, ``sum((c - b) * ln(c / b))`` over the bins of the
  baseline's deciles (``(q_{j-1}, q_j]``, ``q_j`` the smallest baseline value whose ECDF reaches
  ``j / 10``; duplicate quantiles merge bins) or, for a categorical column, over the categories.
  Smoothing: a proportion of 0 on either side is replaced by 1e-4 (Evidently's rule), so the
  index stays finite when a bin empties.
- ``ks``: two-sample Kolmogorov-Smirnov statistic ``sup |F_b - F_c|``, with the asymptotic
  two-sided p-value ``kstwo.sf(D, round(n*m/(n+m)))`` (scipy's ``ks_2samp(method="asymp")``).
  Exact when the grid holds every baseline value (baseline with at most ``max_grid`` distinct
  values): between two baseline values F_b is constant, so the supremum is reached at a point
  or at a left limit, both known. On a quantile grid it is a lower bound, short of the true value
  by at most the mass of one open cell (about 1 / max_grid of the baseline).
- ``wasserstein``: the 1-Wasserstein distance divided by the baseline's standard deviation
  (ddof 0, floored at 0.001 as Evidently does). Exact when every open cell holds at most one
  distinct value per side (always for data on the grid); otherwise a cell's mass sits at its mean.
- ``chisquare``: Pearson's chi-squared test of homogeneity on the 2 x k table of category counts
  (``scipy.stats.chi2_contingency(correction=False)``): unseen categories are allowed.
- ``jensenshannon``: Jensen-Shannon *distance* (square root of the divergence, natural log;
  ``scipy.spatial.distance.jensenshannon``) of the category proportions.
- ``tvd``: total-variation distance ``0.5 * sum |p - q|``; ``linf``: ``max |p - q|``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from churn_monitoring.histograms import CategoricalCounts, FloatArray, NumericHistogram, Summary

Kind = Literal["numeric", "categorical"]
PSI_BINS = 10
PSI_EPSILON = 1e-4
WASSERSTEIN_STD_FLOOR = 1e-3


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float | None = None


@dataclass(frozen=True)
class StatTest:
    """A named kernel. ``drift_when``: "above" -> drift if statistic > threshold; "p_below" ->
    drift if the p-value < threshold."""

    name: str
    kinds: tuple[Kind, ...]
    default_threshold: float
    drift_when: Literal["above", "p_below"]
    compute: Callable[[Summary, Summary], TestResult]
    description: str = ""

    def drifted(self, result: TestResult, threshold: float | None = None) -> bool | None:
        limit = self.default_threshold if threshold is None else threshold
        value = result.statistic if self.drift_when == "above" else result.p_value
        if value is None or math.isnan(value):
            return None
        return value > limit if self.drift_when == "above" else value < limit


_REGISTRY: dict[str, StatTest] = {}


def register_stattest(test: StatTest) -> StatTest:
    _REGISTRY[test.name] = test
    return test


def get_stattest(name: str) -> StatTest:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no stattest {name!r}; registered: {sorted(_REGISTRY)}") from None


def stattests(kind: Kind | None = None) -> list[StatTest]:
    return [t for t in _REGISTRY.values() if kind is None or kind in t.kinds]


# --- numeric helpers --------------------------------------------------------------------------


def _ecdf_at_points(h: NumericHistogram) -> tuple[FloatArray, FloatArray]:
    """(F(g_i), F(g_i^-)) for every grid point, as fractions of the non-null count."""
    n = h.count
    inclusive = np.cumsum(h.cells[:-1] + h.points)
    left = inclusive - h.points
    return inclusive / n, left / n


def _psi_bins_numeric(baseline: NumericHistogram, bins: int = PSI_BINS) -> FloatArray:
    """The baseline's quantiles q_1..q_{bins-1} (inverted CDF), deduplicated."""
    n = baseline.count
    positions, weights = baseline.atoms()
    cumulative = np.cumsum(weights) / n
    targets = np.arange(1, bins) / bins
    index = np.searchsorted(cumulative, targets - 1e-12, side="left")
    return np.unique(positions[np.minimum(index, len(positions) - 1)])


def _binned(h: NumericHistogram, edges: FloatArray) -> FloatArray:
    """Counts in (-inf, q1], (q1, q2], ..., (q_last, inf) from the summary's atoms."""
    positions, weights = h.atoms()
    index = np.searchsorted(edges, positions, side="left")
    return np.bincount(index, weights=weights, minlength=len(edges) + 1)


def psi_bin_counts(
    baseline: NumericHistogram, current: NumericHistogram
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(bin edges q_1..q_k, baseline counts, current counts) of the numeric PSI: for plots."""
    edges = _psi_bins_numeric(baseline)
    return edges, _binned(baseline, edges), _binned(current, edges)


def _psi(expected: FloatArray, actual: FloatArray) -> float:
    # Evidently's smoothing: only an empty bin's proportion is replaced (by 1e-4).
    b = np.where(expected == 0, PSI_EPSILON, expected / expected.sum())
    c = np.where(actual == 0, PSI_EPSILON, actual / actual.sum())
    return float(np.sum((c - b) * np.log(c / b)))


def _numeric_pair(b: Summary, c: Summary) -> tuple[NumericHistogram, NumericHistogram]:
    if not (isinstance(b, NumericHistogram) and isinstance(c, NumericHistogram)):
        raise TypeError("this kernel reads numeric histograms")
    return b, c


def _categorical_pair(b: Summary, c: Summary) -> tuple[CategoricalCounts, CategoricalCounts]:
    if not (isinstance(b, CategoricalCounts) and isinstance(c, CategoricalCounts)):
        raise TypeError("this kernel reads categorical counts")
    return b, c


def _empty(*summaries: Summary) -> bool:
    return any(s.count == 0 for s in summaries)


def psi(baseline: Summary, current: Summary) -> TestResult:
    if _empty(baseline, current):
        return TestResult(float("nan"))
    if isinstance(baseline, CategoricalCounts) and isinstance(current, CategoricalCounts):
        keys = sorted(set(baseline.counts) | set(current.counts))
        b = np.array([baseline.counts.get(k, 0.0) for k in keys])
        c = np.array([current.counts.get(k, 0.0) for k in keys])
        return TestResult(_psi(b, c))
    baseline, current = _numeric_pair(baseline, current)
    edges = _psi_bins_numeric(baseline)
    return TestResult(_psi(_binned(baseline, edges), _binned(current, edges)))


def ks(baseline: Summary, current: Summary) -> TestResult:
    from scipy.stats import kstwo

    baseline, current = _numeric_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"), float("nan"))
    fb, fb_left = _ecdf_at_points(baseline)
    fc, fc_left = _ecdf_at_points(current)
    d = float(
        max(np.max(np.abs(fb - fc), initial=0.0), np.max(np.abs(fb_left - fc_left), initial=0.0))
    )
    m, n = sorted([baseline.count, current.count], reverse=True)
    en = m * n / (m + n)
    p = float(np.clip(kstwo.sf(d, np.round(en)), 0.0, 1.0))
    return TestResult(d, p)


def wasserstein_distance(baseline: NumericHistogram, current: NumericHistogram) -> float:
    """W1 between the two summaries' atoms (see ``NumericHistogram.atoms``)."""
    xb, wb = baseline.atoms()
    xc, wc = current.atoms()
    support = np.unique(np.concatenate([xb, xc]))
    cb = np.cumsum(np.bincount(np.searchsorted(support, xb), wb, len(support))) / wb.sum()
    cc = np.cumsum(np.bincount(np.searchsorted(support, xc), wc, len(support))) / wc.sum()
    return float(np.sum(np.abs(cb - cc)[:-1] * np.diff(support)))


def wasserstein(baseline: Summary, current: Summary) -> TestResult:
    baseline, current = _numeric_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"))
    norm = max(baseline.std, WASSERSTEIN_STD_FLOOR)
    return TestResult(wasserstein_distance(baseline, current) / norm)


# --- categorical ------------------------------------------------------------------------------


def _proportions(
    baseline: CategoricalCounts, current: CategoricalCounts
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    keys = sorted(set(baseline.counts) | set(current.counts))
    b = np.array([baseline.counts.get(k, 0.0) for k in keys], dtype=np.float64)
    c = np.array([current.counts.get(k, 0.0) for k in keys], dtype=np.float64)
    return b, c, b / b.sum(), c / c.sum()


def chisquare(baseline: Summary, current: Summary) -> TestResult:
    from scipy.stats import chi2

    baseline, current = _categorical_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"), float("nan"))
    b, c, _, _ = _proportions(baseline, current)
    table = np.vstack([b, c])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return TestResult(0.0, 1.0)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return TestResult(statistic, float(chi2.sf(statistic, table.shape[1] - 1)))


def jensenshannon(baseline: Summary, current: Summary) -> TestResult:
    baseline, current = _categorical_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"))
    _, _, p, q = _proportions(baseline, current)
    m = (p + q) / 2

    def kl(a: FloatArray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return TestResult(math.sqrt(max((kl(p) + kl(q)) / 2, 0.0)))


def tvd(baseline: Summary, current: Summary) -> TestResult:
    baseline, current = _categorical_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"))
    _, _, p, q = _proportions(baseline, current)
    return TestResult(float(0.5 * np.abs(p - q).sum()))


def linf(baseline: Summary, current: Summary) -> TestResult:
    baseline, current = _categorical_pair(baseline, current)
    if _empty(baseline, current):
        return TestResult(float("nan"))
    _, _, p, q = _proportions(baseline, current)
    return TestResult(float(np.abs(p - q).max()))


register_stattest(
    StatTest("psi", ("numeric", "categorical"), 0.2, "above", psi, "population stability index")
)
register_stattest(StatTest("ks", ("numeric",), 0.05, "p_below", ks, "Kolmogorov-Smirnov"))
register_stattest(
    StatTest("wasserstein", ("numeric",), 0.1, "above", wasserstein, "Wasserstein / baseline std")
)
register_stattest(
    StatTest("chisquare", ("categorical",), 0.05, "p_below", chisquare, "chi-squared homogeneity")
)
register_stattest(
    StatTest("jensenshannon", ("categorical",), 0.1, "above", jensenshannon, "Jensen-Shannon")
)
register_stattest(StatTest("tvd", ("categorical",), 0.1, "above", tvd, "total variation"))
register_stattest(StatTest("linf", ("categorical",), 0.1, "above", linf, "L-infinity"))


def unseen_categories(baseline: CategoricalCounts, current: CategoricalCounts) -> list[str]:
    """Categories of the current side that the baseline never had, by name."""
    return sorted(k for k, v in current.counts.items() if v > 0 and k not in baseline.counts)
