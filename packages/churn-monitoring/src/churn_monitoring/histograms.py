"""The aggregated form of one column on one side (baseline or window): what every kernel reads.

A numeric column is summarised on a **grid** fixed by the baseline: its distinct values when it
has at most ``max_grid`` of them, else its ``max_grid`` quantiles. Values equal to a grid point
are counted on that point; values strictly between two points (or beyond the ends) are counted
in that open cell, with their sum. Nothing else about the rows is kept, so the same summary comes
from Spark aggregates (``churn_monitoring.aggregate``) or from numpy (``numeric_histogram``, used
by the tests and small tools), and two summaries on one grid can be added (slices, windows).

A categorical column is its value counts; a null (or NaN) is counted apart as invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[Any]


@dataclass(frozen=True)
class NumericHistogram:
    """Counts of one numeric column on a grid (see the module docstring)."""

    grid: FloatArray  # K sorted distinct points
    points: FloatArray  # K: count of values equal to grid[i]
    cells: FloatArray  # K + 1: count in (-inf, g0), (g0, g1), ..., (g_{K-1}, +inf)
    cell_sums: FloatArray  # K + 1: sum of the values in each open cell
    nulls: float = 0.0
    sum_squares: float = 0.0
    minimum: float = float("nan")
    maximum: float = float("nan")

    @property
    def count(self) -> float:
        """Non-null values."""
        return float(self.points.sum() + self.cells.sum())

    @property
    def total(self) -> float:
        return self.count + self.nulls

    @property
    def mean(self) -> float:
        n = self.count
        return float((self.points @ self.grid + self.cell_sums.sum()) / n) if n else float("nan")

    @property
    def std(self) -> float:
        """Population standard deviation (ddof=0, like numpy's default)."""
        n = self.count
        if not n:
            return float("nan")
        mean = self.mean
        return float(np.sqrt(max(self.sum_squares / n - mean * mean, 0.0)))

    def atoms(self) -> tuple[FloatArray, FloatArray]:
        """The distribution as weighted atoms: each grid point with its count, and each
        non-empty open cell's mass placed at the mean of its values (exact when a cell holds a
        single distinct value). Sorted by position."""
        occupied = self.cells > 0
        positions = np.concatenate(
            [self.grid, self.cell_sums[occupied] / self.cells[occupied]]
        ).astype(np.float64)
        weights = np.concatenate([self.points, self.cells[occupied]]).astype(np.float64)
        order = np.argsort(positions, kind="stable")
        return positions[order], weights[order]

    def __add__(self, other: NumericHistogram) -> NumericHistogram:
        if not np.array_equal(self.grid, other.grid):
            raise ValueError("histograms on different grids cannot be added")
        return NumericHistogram(
            grid=self.grid,
            points=self.points + other.points,
            cells=self.cells + other.cells,
            cell_sums=self.cell_sums + other.cell_sums,
            nulls=self.nulls + other.nulls,
            sum_squares=self.sum_squares + other.sum_squares,
            minimum=float(np.fmin(self.minimum, other.minimum)),
            maximum=float(np.fmax(self.maximum, other.maximum)),
        )


@dataclass(frozen=True)
class CategoricalCounts:
    """Value counts of one categorical column; ``nulls`` counts null or empty values."""

    counts: dict[str, float] = field(default_factory=dict)
    nulls: float = 0.0

    @property
    def count(self) -> float:
        return float(sum(self.counts.values()))

    @property
    def total(self) -> float:
        return self.count + self.nulls

    def __add__(self, other: CategoricalCounts) -> CategoricalCounts:
        merged = dict(self.counts)
        for key, value in other.counts.items():
            merged[key] = merged.get(key, 0.0) + value
        return CategoricalCounts(merged, self.nulls + other.nulls)


Summary = NumericHistogram | CategoricalCounts


def empty_numeric(grid: FloatArray) -> NumericHistogram:
    k = len(grid)
    return NumericHistogram(grid, np.zeros(k), np.zeros(k + 1), np.zeros(k + 1))


def grid_from_values(values: npt.ArrayLike, max_grid: int = 1000) -> FloatArray:
    """The grid a baseline defines (numpy twin of ``aggregate.baseline_grids``): its distinct
    values when there are at most ``max_grid``, else its quantiles at ``i / max_grid``."""
    x = _finite(values)
    distinct = np.unique(x)
    if len(distinct) <= max_grid:
        return distinct.astype(np.float64)
    probabilities = np.arange(1, max_grid + 1) / max_grid
    return np.unique(np.quantile(x, probabilities, method="inverted_cdf")).astype(np.float64)


def numeric_histogram(values: npt.ArrayLike, grid: FloatArray) -> NumericHistogram:
    """The summary of raw values on ``grid`` (numpy; nulls and NaN counted as ``nulls``)."""
    raw = np.asarray(values, dtype=np.float64)
    x = raw[np.isfinite(raw)]
    k = len(grid)
    index = np.searchsorted(grid, x, side="left")
    on_point = (index < k) & (grid[np.minimum(index, k - 1)] == x) if k else np.zeros(0, bool)
    points = np.bincount(index[on_point], minlength=k).astype(np.float64)[:k]
    cells = np.bincount(index[~on_point], minlength=k + 1).astype(np.float64)
    sums = np.bincount(index[~on_point], weights=x[~on_point], minlength=k + 1)
    return NumericHistogram(
        grid=np.asarray(grid, dtype=np.float64),
        points=points,
        cells=cells,
        cell_sums=sums.astype(np.float64),
        nulls=float(len(raw) - len(x)),
        sum_squares=float(np.sum(x * x)),
        minimum=float(x.min()) if len(x) else float("nan"),
        maximum=float(x.max()) if len(x) else float("nan"),
    )


def categorical_counts(values: npt.ArrayLike) -> CategoricalCounts:
    """Value counts of raw values (numpy); None, NaN and "" are counted as nulls."""
    counts: dict[str, float] = {}
    nulls = 0.0
    for value in np.asarray(values, dtype=object).ravel():
        if _is_null(value):
            nulls += 1
        else:
            counts[str(value)] = counts.get(str(value), 0.0) + 1
    return CategoricalCounts(counts, nulls)


def _is_null(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and np.isnan(value))


def _finite(values: npt.ArrayLike) -> FloatArray:
    raw = np.asarray(values, dtype=np.float64)
    return raw[np.isfinite(raw)]
