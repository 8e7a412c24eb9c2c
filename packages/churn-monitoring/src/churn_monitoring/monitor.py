"""One monitoring computation: baseline + scored rows in, rows of both monitor tables out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from churn_monitoring.aggregate import (
    WINDOW_END,
    WINDOW_START,
    Granularity,
    MonitorSpec,
    WindowSummary,
    performance_cells,
    profile_cells,
    summarise,
)
from churn_monitoring.baseline import Baseline, summarise_baseline
from churn_monitoring.business import BusinessParams
from churn_monitoring.metrics import drift_rows, profile_rows

BASELINE = "BASELINE"
CONSECUTIVE = "CONSECUTIVE"


@dataclass
class MonitorResult:
    profile: pd.DataFrame
    drift: pd.DataFrame
    windows: list[datetime]
    summaries: dict[tuple[datetime | None, str | None, str | None], WindowSummary] = field(
        default_factory=dict
    )
    baseline: dict[tuple[datetime | None, str | None, str | None], WindowSummary] = field(
        default_factory=dict
    )


def available_windows(scored: DataFrame) -> list[tuple[datetime, datetime]]:
    """(start, end) of every window in ``scored`` (a tiny distinct query), oldest first."""
    rows = scored.select(WINDOW_START, WINDOW_END).distinct().orderBy(WINDOW_START).collect()
    return [(r[WINDOW_START], r[WINDOW_END]) for r in rows if r[WINDOW_START] is not None]


def monitor(
    baseline_rows: DataFrame | Baseline,
    scored: DataFrame,
    spec: MonitorSpec,
    *,
    granularity: Granularity,
    model_version: str,
    windows: Sequence[datetime] | None = None,
    business: BusinessParams | None = None,
    prediction_baseline: DataFrame | None = None,
) -> MonitorResult:
    """Profile and drift rows of ``windows`` (default: all) of ``scored``, which carries
    ``window_start``/``window_end`` (``aggregate.with_windows``). Each window is compared with the
    baseline and with the window before it in ``scored`` (read too, but not reported).

    ``prediction_baseline``: rows whose probability is the baseline of the prediction drift
    (and of the predicted positive rate) instead of ``baseline_rows``' own; the model's scores on
    held-out rows, since its scores on its own training rows are more confident than on anyone
    new. ``baseline_rows`` then needs no probability column.

    ``baseline_rows`` may instead be a ``Baseline`` that ``summarise_baseline`` made of the same
    rows earlier (kept with ``baseline.encode``): its grids and summaries are used as they are,
    and ``prediction_baseline`` is not read."""
    business = business or BusinessParams()
    all_windows = available_windows(scored)
    ends = dict(all_windows)
    starts = [s for s, _ in all_windows]
    wanted = [w for w in starts if windows is None or w in set(windows)]
    previous = {w: starts[i - 1] for i, w in enumerate(starts) if i > 0}
    needed = sorted(set(wanted) | {previous[w] for w in wanted if w in previous})
    if not wanted:
        return MonitorResult(pd.DataFrame(), pd.DataFrame(), [])

    kept = (
        baseline_rows
        if isinstance(baseline_rows, Baseline)
        else summarise_baseline(baseline_rows, spec, prediction_baseline)
    )
    grids, baseline = kept.grids, kept.summaries
    if missing := [c for c in spec.numeric_columns if c not in grids]:
        raise ValueError(f"the baseline has no grid of {missing}: it was made for another spec")

    current = scored.where(F.col(WINDOW_START).isin(needed))
    cells = profile_cells(current, spec, grids)
    labelled = spec.label is not None and spec.label in scored.columns
    perf = performance_cells(current, spec) if labelled else None
    summaries = summarise(cells, perf, spec, grids)

    profile: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    for (start, key, value), summary in summaries.items():
        if start not in wanted:
            continue
        assert start is not None
        meta = {
            WINDOW_START: start,
            WINDOW_END: ends[start],
            "granularity": granularity,
            "model_version": model_version,
            "slice_key": key,
            "slice_value": value,
        }
        profile += [{**meta, **row} for row in profile_rows(summary, spec, business)]
        reference = baseline.get((None, key, value)) or _empty_like(summary)
        drift += [
            {**meta, "drift_type": BASELINE, "comparison_window_start": None, **row}
            for row in drift_rows(reference, summary, spec)
        ]
        before = previous.get(start)
        if before is not None and (before, key, value) in summaries:
            drift += [
                {**meta, "drift_type": CONSECUTIVE, "comparison_window_start": before, **row}
                for row in drift_rows(summaries[(before, key, value)], summary, spec)
            ]
    return MonitorResult(pd.DataFrame(profile), pd.DataFrame(drift), wanted, summaries, baseline)


def _empty_like(summary: WindowSummary) -> WindowSummary:
    """A slice value the baseline never had: every statistic against it is undefined (NaN)."""
    from churn_monitoring.histograms import CategoricalCounts, NumericHistogram, empty_numeric

    empty = WindowSummary(None, summary.slice_key, summary.slice_value)
    for name, s in summary.columns.items():
        empty.columns[name] = (
            empty_numeric(s.grid) if isinstance(s, NumericHistogram) else CategoricalCounts()
        )
    return empty
