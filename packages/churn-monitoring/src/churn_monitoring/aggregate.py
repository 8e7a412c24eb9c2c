"""Spark side: the few aggregations that turn scored rows into summaries (no row leaves Spark).

1. ``baseline_grids``: per numeric column, the baseline's distinct values (at most ``max_grid``)
   or its ``max_grid`` approximate quantiles; one aggregation, then one small collect.
2. ``profile_cells``: one pass over the rows. Each numeric value is bucketed on its grid
   (Spark ML ``Bucketizer``, binary search in the JVM: a grid point and the open cell after it
   are separate buckets), then every row is unpivoted to (column, bucket, category, value) and
   counted by window, slice columns, column and bucket, with the values' sum and sum of squares.
   Slices and the overall view are sums of these groups, done on the driver over a few thousand
   aggregated rows, so any number of slice values costs no extra pass.
3. ``performance_cells``: labelled rows grouped by rounded score, label, calibration bin and
   predicted class, with the log-loss and Brier terms summed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from churn_monitoring.histograms import (
    CategoricalCounts,
    FloatArray,
    NumericHistogram,
    Summary,
    empty_numeric,
)
from churn_monitoring.performance import (
    ECE_BINS,
    LOG_LOSS_EPS,
    PerformanceCounts,
    empty_performance,
)

Granularity = Literal["1 day", "1 week", "1 month"]
WINDOW_START = "window_start"
WINDOW_END = "window_end"
PREDICTED_POSITIVE = ":predicted_positive"
EXPECTED_LOSS_BASE = ":probability_x_charges"
OVERALL = (None, None)  # (slice_key, slice_value) of the whole window
DISTINCT_RSD = 0.05  # relative error of the distinct-count estimate that picks grid columns

SliceKey = tuple[str | None, str | None]


@dataclass(frozen=True)
class MonitorSpec:
    """What to monitor in a frame of scored rows."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    threshold: float
    probability: str = "churn_probability"
    label: str | None = "churn"
    slices: tuple[str, ...] = ("contract", "internet_service", "senior_citizen")
    charges: str | None = "monthly_charges"
    max_grid: int = 1000
    score_decimals: int = 4

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        """The numeric features and the probability (prediction drift)."""
        return (*self.numeric, self.probability)


def with_windows(rows: DataFrame, time_column: str, granularity: Granularity) -> DataFrame:
    """Add ``window_start`` / ``window_end`` (timestamps) from a date or timestamp column."""
    unit = {"1 day": "day", "1 week": "week", "1 month": "month"}[granularity]
    start = F.date_trunc(unit, F.col(time_column).cast("timestamp"))
    step = {"1 day": "INTERVAL 1 DAY", "1 week": "INTERVAL 7 DAYS", "1 month": "INTERVAL 1 MONTH"}
    return rows.withColumn(WINDOW_START, start).withColumn(
        WINDOW_END, start + F.expr(step[granularity])
    )


# --- grids --------------------------------------------------------------------------------------


def baseline_grids(
    baseline: DataFrame, columns: Sequence[str], max_grid: int
) -> dict[str, FloatArray]:
    """The grid of each numeric column (see ``histograms``), from Spark aggregates only.

    Exact like ``histograms.grid_from_values``: a column's grid is its distinct values when there
    are at most ``max_grid`` of them, counted on the collected values. A coarse distinct-count
    estimate only picks the columns worth collecting: HyperLogLog++ at 5% error is ~10x cheaper
    in Spark than at 1% (0.6 s vs 6-12 s for 25 columns of 5,600 rows on 2 cores), and the
    headroom below covers a 5-sigma miss."""
    clean = baseline.select(*[_clean_numeric(c).alias(c) for c in columns])
    estimate = clean.agg(*[F.approx_count_distinct(c, DISTINCT_RSD).alias(c) for c in columns])
    estimated = estimate.first()
    assert estimated is not None
    grids: dict[str, FloatArray] = {}
    candidates = [c for c in columns if estimated[c] <= max_grid * (1 + 5 * DISTINCT_RSD)]
    if candidates:
        values = (
            clean.select(
                F.explode(
                    F.array(
                        *[F.struct(F.lit(c).alias("c"), F.col(c).alias("v")) for c in candidates]
                    )
                ).alias("x")
            )
            .where(F.col("x.v").isNotNull())
            .select("x.c", "x.v")
            .distinct()
        )
        collected = values.toPandas()
        for c in candidates:
            distinct = np.unique(collected.loc[collected["c"] == c, "v"].to_numpy(np.float64))
            if len(distinct) <= max_grid:
                grids[c] = distinct
    large = [c for c in columns if c not in grids]
    if large:
        row = clean.agg(
            *[_percentiles(c, max_grid, accuracy=10 * max_grid).alias(c) for c in large]
        ).first()
        assert row is not None
        for c in large:
            grids[c] = np.unique(np.asarray(row[c] or [], dtype=np.float64))
    return grids


def _percentiles(column: str, max_grid: int, accuracy: int) -> Column:
    """``percentile_approx`` at 1/max_grid, 2/max_grid, ..., 1: the same doubles as Python's
    ``i / max_grid``, sent as one SQL array literal (``repr`` round-trips a double exactly).
    ``F.percentile_approx`` with a Python list sends each probability as its own literal:
    3 Py4J calls apiece, about 1 s per column of a 1,000-point grid."""
    probabilities = ", ".join(f"{i / max_grid!r}D" for i in range(1, max_grid + 1))
    return F.expr(f"percentile_approx(`{column}`, array({probabilities}), {accuracy})")


def _bucketizer(columns: Sequence[str], buckets: dict[str, _Buckets]) -> Any:
    """A Bucketizer of ``columns`` into ``bucket:<column>``, its splits set in the JVM from one
    JSON text. Passed as a Python list, pyspark converts the splits element by element, one Py4J
    call each: about 2 s per profile pass for 25 grids of up to 1,000 points."""
    import json

    from pyspark.ml.feature import Bucketizer

    bucketizer = Bucketizer(
        inputCols=list(columns),
        outputCols=[f"bucket:{c}" for c in columns],
        handleInvalid="keep",
    )
    # Spark ML's own JSON form of a Double[][] param, infinities as "-Inf"/"Inf"
    # (DoubleParam.jsonEncode); other doubles by repr, which round-trips exactly.
    encoded = json.dumps(
        [
            [("-Inf" if x < 0 else "Inf") if math.isinf(x) else x for x in buckets[c].splits]
            for c in columns
        ]
    )
    java = bucketizer._java_obj
    assert java is not None  # created with the Bucketizer
    param = java.getParam("splitsArray")
    java.set(param, param.jsonDecode(encoded))
    return bucketizer


def _clean_numeric(column: str) -> Column:
    value = F.col(column).cast("double")
    return F.when(F.isnan(value), None).otherwise(value)


@dataclass(frozen=True)
class _Buckets:
    """Bucketizer splits of one grid, and what each bucket is (a point or an open cell)."""

    splits: list[float]
    is_point: np.ndarray
    index: np.ndarray

    @classmethod
    def of(cls, grid: FloatArray) -> _Buckets:
        splits = [-np.inf]
        is_point: list[bool] = []
        index: list[int] = []
        for i, g in enumerate(grid):
            if g > splits[-1]:
                splits.append(float(g))
                is_point.append(False)
                index.append(i)  # open cell before point i
            after = float(np.nextafter(g, np.inf))
            splits.append(after)
            is_point.append(True)
            index.append(i)
        splits.append(np.inf)
        is_point.append(False)
        index.append(len(grid))  # the open cell after the last point
        if len(splits) < 3:  # an empty grid: Bucketizer wants at least two buckets
            splits, is_point, index = [-np.inf, 0.0, np.inf], [False, False], [0, 0]
        return cls(splits, np.array(is_point), np.array(index))


# --- the profile pass ---------------------------------------------------------------------------


def profile_cells(
    rows: DataFrame, spec: MonitorSpec, grids: dict[str, FloatArray], windowed: bool = True
) -> pd.DataFrame:
    """One aggregation over ``rows``: counts per (window, slices, column, bucket/category)."""
    numeric = list(spec.numeric_columns)
    buckets = {c: _Buckets.of(grids[c]) for c in numeric}
    prepared = rows.select(
        *(
            [F.col(WINDOW_START)]
            if windowed
            else [F.lit(None).cast("timestamp").alias(WINDOW_START)]
        ),
        *[F.col(s).cast("string").alias(f"slice:{s}") for s in spec.slices],
        *[_clean_numeric(c).alias(c) for c in numeric],
        *[F.nullif(F.trim(F.col(c).cast("string")), F.lit("")).alias(c) for c in spec.categorical],
        # NaN is invalid like null (and Spark orders NaN above every number).
        (_clean_numeric(spec.probability) >= spec.threshold)
        .cast("double")
        .alias(PREDICTED_POSITIVE),
        (
            _clean_numeric(spec.probability) * _clean_numeric(spec.charges)
            if spec.charges
            else F.lit(None).cast("double")
        ).alias(EXPECTED_LOSS_BASE),
    )
    bucketed = _bucketizer(numeric, buckets).transform(prepared)
    entries = [
        *[f"'{c}', CAST(`bucket:{c}` AS INT), CAST(NULL AS STRING), `{c}`" for c in numeric],
        *[f"'{c}', CAST(NULL AS INT), `{c}`, CAST(NULL AS DOUBLE)" for c in spec.categorical],
        *[
            f"'{c}', 0, CAST(NULL AS STRING), `{c}`"
            for c in (PREDICTED_POSITIVE, EXPECTED_LOSS_BASE)
        ],
    ]
    stacked = (
        f"stack({len(entries)}, {', '.join(entries)}) AS (column_name, bucket, category, value)"
    )
    keys = [WINDOW_START, *[f"slice:{s}" for s in spec.slices]]
    cells = (
        bucketed.select(*keys, F.expr(stacked))
        .groupBy(*keys, "column_name", "bucket", "category")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum("value").alias("s"),
            F.sum(F.col("value") * F.col("value")).alias("s2"),
            F.min("value").alias("lo"),
            F.max("value").alias("hi"),
        )
    )
    return cells.toPandas()


def performance_cells(rows: DataFrame, spec: MonitorSpec, windowed: bool = True) -> pd.DataFrame:
    """Labelled rows only: counts by (window, slices, rounded score, label, bins, class)."""
    assert spec.label is not None
    p = F.col(spec.probability).cast("double")
    y = F.col(spec.label).cast("double")
    clipped = F.least(F.greatest(p, F.lit(LOG_LOSS_EPS)), F.lit(1 - LOG_LOSS_EPS))
    keys = [WINDOW_START, *[f"slice:{s}" for s in spec.slices]]
    # NaN is as unknown as null (pandas-made frames carry NaN for a missing label).
    known = y.isNotNull() & ~F.isnan(y) & p.isNotNull() & ~F.isnan(p)
    labelled = rows.where(known).select(
        *(
            [F.col(WINDOW_START)]
            if windowed
            else [F.lit(None).cast("timestamp").alias(WINDOW_START)]
        ),
        *[F.col(s).cast("string").alias(f"slice:{s}") for s in spec.slices],
        F.round(p, spec.score_decimals).alias("score"),
        y.alias("label"),
        F.least(F.floor(p * ECE_BINS), F.lit(ECE_BINS - 1)).cast("int").alias("ece_bin"),
        (p >= spec.threshold).alias("predicted"),
        p.alias("p"),
        (-(y * F.log(clipped) + (1 - y) * F.log(1 - clipped))).alias("ll"),
        ((p - y) * (p - y)).alias("sq"),
    )
    return (
        labelled.groupBy(*keys, "score", "label", "ece_bin", "predicted")
        .agg(
            F.count(F.lit(1)).alias("n"),
            F.sum("p").alias("p_sum"),
            F.sum("ll").alias("ll_sum"),
            F.sum("sq").alias("sq_sum"),
        )
        .toPandas()
    )


# --- from aggregated cells to summaries (driver, small frames) -----------------------------------


@dataclass
class WindowSummary:
    """Everything about one (window, slice): per-column summaries and table-level numbers."""

    window_start: datetime | None
    slice_key: str | None
    slice_value: str | None
    columns: dict[str, Summary] = field(default_factory=dict)
    row_count: float = 0.0
    predicted_positive_rate: float = float("nan")
    probability_x_charges: float = float("nan")
    performance: PerformanceCounts = field(default_factory=empty_performance)


def _slice_groups(
    frame: pd.DataFrame, spec: MonitorSpec
) -> Iterator[tuple[SliceKey, pd.DataFrame]]:
    yield OVERALL, frame
    for s in spec.slices:
        for value, part in frame.groupby(f"slice:{s}", dropna=True):
            yield (s, str(value)), part


def summarise(
    cells: pd.DataFrame,
    performance: pd.DataFrame | None,
    spec: MonitorSpec,
    grids: dict[str, FloatArray],
) -> dict[tuple[datetime | None, str | None, str | None], WindowSummary]:
    """Summaries per (window start, slice key, slice value), the overall view included: windows
    in the order the cells first hold them, each with its overall view, then each slice's values
    present in it, sorted."""
    # The same buckets profile_cells used (a function of the grid). Not carried in
    # ``DataFrame.attrs``: pandas deep-copies attrs into every frame derived from it, which
    # made each groupby and column access copy every grid (minutes per monitoring run).
    buckets = {c: _Buckets.of(grids[c]) for c in spec.numeric_columns}
    out: dict[tuple[datetime | None, str | None, str | None], WindowSummary] = {}
    if len(cells):
        _summarise_cells(out, _Cells.of(cells), spec, grids, buckets)
    if performance is not None and len(performance):
        for window in performance[WINDOW_START].drop_duplicates().tolist():
            in_window = performance[_same_window(performance[WINDOW_START], window)]
            start = _window_start(window)
            for (key, value), part in _slice_groups(in_window, spec):
                if (start, key, value) in out:
                    out[(start, key, value)].performance = _performance(part)
    return out


@dataclass(frozen=True)
class _Cells:
    """The aggregated cells as numpy arrays, with the rows of each (window, column) group.

    Thousands of summaries (window x slice value x column) are built from one frame of cells:
    indexing numpy arrays by precomputed row positions costs microseconds a summary, where
    filtering and grouping the frame in pandas cost milliseconds (seconds per monitoring run).
    """

    windows: list[Any]  # distinct window starts, in order of first appearance
    window: np.ndarray  # per row: index into ``windows``
    column: np.ndarray  # column_name
    slices: dict[str, np.ndarray]  # slice column -> per-row slice value (None when null)
    bucket: np.ndarray  # bucket as int64 (0 where null)
    has_bucket: np.ndarray
    category: np.ndarray
    has_category: np.ndarray
    n: np.ndarray
    s: np.ndarray
    s2: np.ndarray
    lo: np.ndarray
    hi: np.ndarray

    @classmethod
    def of(cls, cells: pd.DataFrame) -> _Cells:
        window, windows = pd.factorize(cells[WINDOW_START], use_na_sentinel=False)
        bucket = cells["bucket"]
        return cls(
            windows=list(windows),
            window=window,
            column=cells["column_name"].to_numpy(object),
            slices={
                name: cells[name].to_numpy(object)
                for name in cells.columns
                if name.startswith("slice:")
            },
            bucket=bucket.fillna(0).to_numpy(np.int64),
            has_bucket=bucket.notna().to_numpy(),
            category=cells["category"].to_numpy(object),
            has_category=cells["category"].notna().to_numpy(),
            n=cells["n"].to_numpy(np.float64),
            s=cells["s"].to_numpy(np.float64),
            s2=cells["s2"].to_numpy(np.float64),
            lo=cells["lo"].to_numpy(np.float64),
            hi=cells["hi"].to_numpy(np.float64),
        )

    def groups(self, rows: np.ndarray) -> dict[tuple[int, str], np.ndarray]:
        """Positions of ``rows`` (ascending) per (window index, column name), in row order."""
        keys = pd.DataFrame({"w": self.window[rows], "c": self.column[rows]})
        indices: dict[Any, Any] = keys.groupby(["w", "c"], sort=False).indices
        return {(int(w), str(c)): rows[positions] for (w, c), positions in indices.items()}


def _views(cells: _Cells, spec: MonitorSpec) -> Iterator[tuple[SliceKey, np.ndarray]]:
    """The overall view, then each slice value (sorted) with the positions of its rows."""
    every = np.arange(len(cells.window))
    yield OVERALL, every
    for s in spec.slices:
        values = cells.slices[f"slice:{s}"]
        present = pd.notna(values)
        for value in sorted(set(values[present].tolist())):
            yield (s, str(value)), every[present & (values == value)]


def _summarise_cells(
    out: dict[tuple[datetime | None, str | None, str | None], WindowSummary],
    cells: _Cells,
    spec: MonitorSpec,
    grids: dict[str, FloatArray],
    buckets: dict[str, _Buckets],
) -> None:
    views = []
    for view, in_view in _views(cells, spec):
        groups = cells.groups(in_view)
        views.append((view, groups, {w for w, _ in groups}))
    for w, window in enumerate(cells.windows):
        start = _window_start(window)
        for (key, value), groups, windows in views:
            if w not in windows:  # no row of this slice value in this window
                continue
            summary = WindowSummary(start, key, value)
            rows: np.ndarray | None
            for c in spec.numeric_columns:
                rows = groups.get((w, c))
                summary.columns[c] = (
                    _numeric(cells, rows, grids[c], buckets[c])
                    if rows is not None
                    else empty_numeric(grids[c])
                )
            for c in spec.categorical:
                rows = groups.get((w, c))
                summary.columns[c] = (
                    _categorical(cells, rows) if rows is not None else CategoricalCounts()
                )
            if (rows := groups.get((w, PREDICTED_POSITIVE))) is not None:
                n, positive = cells.n[rows], cells.s[rows]
                summary.row_count = float(n.sum())
                counted = float(n[~np.isnan(positive)].sum())
                summary.predicted_positive_rate = (
                    float(np.nansum(positive)) / counted if counted else float("nan")
                )
            rows = groups.get((w, EXPECTED_LOSS_BASE))
            if rows is not None and not np.isnan(cells.s[rows]).all():
                summary.probability_x_charges = float(np.nansum(cells.s[rows]))
            out[(start, key, value)] = summary


def _window_start(window: Any) -> datetime | None:
    return None if pd.isna(window) else pd.Timestamp(window).to_pydatetime()


def _same_window(column: pd.Series, window: Any) -> pd.Series:
    return column.isna() if pd.isna(window) else column == window


def _numeric(cells: _Cells, rows: np.ndarray, grid: FloatArray, b: _Buckets) -> NumericHistogram:
    k = len(grid)
    valid = rows[cells.has_bucket[rows]]
    bucket = cells.bucket[valid]
    n = cells.n[valid]
    s = cells.s[valid]
    point = b.is_point[bucket]
    index = b.index[bucket]
    return NumericHistogram(
        grid=grid,
        points=np.bincount(index[point], weights=n[point], minlength=k)[:k].astype(np.float64),
        cells=np.bincount(index[~point], weights=n[~point], minlength=k + 1).astype(np.float64),
        cell_sums=np.bincount(index[~point], weights=s[~point], minlength=k + 1).astype(np.float64),
        nulls=float(cells.n[rows[~cells.has_bucket[rows]]].sum()),
        sum_squares=float(np.nansum(cells.s2[valid])),
        minimum=_nan_extreme(np.nanmin, cells.lo[valid]),
        maximum=_nan_extreme(np.nanmax, cells.hi[valid]),
    )


def _nan_extreme(extreme: Any, values: np.ndarray) -> float:
    """``extreme`` of the non-NaN values; NaN when there is none (pandas' min/max skipna)."""
    known = values[~np.isnan(values)]
    return float(extreme(known)) if len(known) else float("nan")


def _categorical(cells: _Cells, rows: np.ndarray) -> CategoricalCounts:
    known = cells.has_category[rows]
    counts: dict[str, float] = {}
    for category, n in zip(
        cells.category[rows[known]].tolist(), cells.n[rows[known]].tolist(), strict=True
    ):
        counts[category] = counts.get(category, 0.0) + n
    return CategoricalCounts(
        {str(k): float(counts[k]) for k in sorted(counts)},
        float(cells.n[rows[~known]].sum()),
    )


def _performance(part: pd.DataFrame) -> PerformanceCounts:
    by_score = part.groupby(["score", "label"])["n"].sum().unstack(fill_value=0)
    scores = by_score.index.to_numpy(np.float64)
    bins = part.groupby("ece_bin")
    ece_index = np.arange(ECE_BINS)
    predicted = part["predicted"].astype(bool)
    positive = part["label"] == 1.0

    def count(mask: pd.Series) -> float:
        return float(part.loc[mask, "n"].sum())

    return PerformanceCounts(
        scores=scores,
        positives=by_score.get(1.0, pd.Series(0.0, index=by_score.index)).to_numpy(np.float64),
        negatives=by_score.get(0.0, pd.Series(0.0, index=by_score.index)).to_numpy(np.float64),
        log_loss_sum=float(part["ll_sum"].sum()),
        brier_sum=float(part["sq_sum"].sum()),
        ece_count=bins["n"].sum().reindex(ece_index, fill_value=0).to_numpy(np.float64),
        ece_probability_sum=bins["p_sum"]
        .sum()
        .reindex(ece_index, fill_value=0)
        .to_numpy(np.float64),
        ece_label_sum=(part["label"] * part["n"])
        .groupby(part["ece_bin"])
        .sum()
        .reindex(ece_index, fill_value=0)
        .to_numpy(np.float64),
        tp=count(predicted & positive),
        fp=count(predicted & ~positive),
        tn=count(~predicted & ~positive),
        fn=count(~predicted & positive),
    )
