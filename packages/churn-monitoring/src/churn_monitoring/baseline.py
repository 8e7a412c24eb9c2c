"""The baseline side of a monitoring computation, computed once and kept as text.

A model's baseline (its training rows, and optionally its scores on held-out rows) does not change
while the model is monitored, yet every window compared against it needs its grids and summaries:
for a scheduled job that means reading the training rows, scoring the held-out rows and two
aggregation passes on every run. ``summarise_baseline`` computes them once; ``encode`` and
``decode`` turn them into text and back bit for bit (arrays as raw float64 bytes), so a job can
keep them in a table under a fingerprint of everything they depend on (``fingerprint``) and hand
them to ``monitor`` instead of the rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import zlib
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from churn_monitoring.aggregate import (
    MonitorSpec,
    WindowSummary,
    baseline_grids,
    profile_cells,
    summarise,
)
from churn_monitoring.histograms import (
    CategoricalCounts,
    FloatArray,
    NumericHistogram,
    empty_numeric,
)
from churn_monitoring.performance import PerformanceCounts

#: bumped whenever what a summary holds, or how it is computed, changes: a kept baseline of
#: another format is never decoded (its fingerprint differs)
FORMAT = 1


#: (window start, slice key, slice value): the baseline's window start is always None
SummaryKey = tuple[datetime | None, str | None, str | None]


@dataclass(frozen=True)
class Baseline:
    """The grid of each numeric column, and the baseline's summary per slice (overall first)."""

    grids: dict[str, FloatArray]
    summaries: dict[SummaryKey, WindowSummary]


def summarise_baseline(
    rows: DataFrame, spec: MonitorSpec, prediction_rows: DataFrame | None = None
) -> Baseline:
    """Grids and per-slice summaries of ``rows``.

    ``prediction_rows``: rows whose probability is the baseline of the prediction drift (and of
    the predicted positive rate) instead of ``rows``' own, which then need no probability."""
    if prediction_rows is None:
        grids = baseline_grids(rows, spec.numeric_columns, spec.max_grid)
    else:
        grids = {
            **baseline_grids(rows, spec.numeric, spec.max_grid),
            **baseline_grids(prediction_rows, [spec.probability], spec.max_grid),
        }
        if spec.probability not in rows.columns:
            rows = rows.withColumn(spec.probability, F.lit(None).cast("double"))
    summaries = summarise(profile_cells(rows, spec, grids, windowed=False), None, spec, grids)
    if prediction_rows is not None:
        only = replace(spec, numeric=(), categorical=())
        cells = profile_cells(prediction_rows, only, grids, windowed=False)
        scored = summarise(cells, None, only, grids)
        for key, summary in summaries.items():
            other = scored.get(key)
            summary.columns[spec.probability] = (
                other.columns[spec.probability] if other else empty_numeric(grids[spec.probability])
            )
            summary.predicted_positive_rate = other.predicted_positive_rate if other else math.nan
            summary.probability_x_charges = other.probability_x_charges if other else math.nan
    return Baseline(grids, summaries)


def fingerprint(spec: MonitorSpec, **sources: Any) -> str:
    """A key for a kept baseline: the spec, this module's ``FORMAT`` and whatever identifies
    the rows (model version, table versions...), as keyword arguments of JSON values."""
    text = json.dumps(
        {"format": FORMAT, "spec": asdict(spec), "sources": sources}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


# --- text form ------------------------------------------------------------------------------------


def encode(baseline: Baseline) -> str:
    """``baseline`` as ASCII text (JSON, deflated, base64)."""
    document = {
        "format": FORMAT,
        "grids": {name: _array(grid) for name, grid in baseline.grids.items()},
        "summaries": [_summary(summary, baseline.grids) for summary in baseline.summaries.values()],
    }
    raw = json.dumps(document, allow_nan=True).encode()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def decode(text: str) -> Baseline:
    """The ``Baseline`` that ``encode`` turned into ``text``; ``ValueError`` if it is not one of
    this ``FORMAT``."""
    try:
        document = json.loads(zlib.decompress(base64.b64decode(text, validate=True)))
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"not an encoded baseline: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise ValueError(f"an encoded baseline of format {found!r}, not {FORMAT}")
    try:
        return _baseline(document)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a damaged document
        raise ValueError(f"not an encoded baseline: {type(exc).__name__}: {exc}") from None


def _baseline(document: dict[str, Any]) -> Baseline:
    grids = {name: _from_array(value) for name, value in document["grids"].items()}
    summaries: dict[SummaryKey, WindowSummary] = {}
    for item in document["summaries"]:
        summary = WindowSummary(
            None,
            item["slice_key"],
            item["slice_value"],
            row_count=item["row_count"],
            predicted_positive_rate=item["predicted_positive_rate"],
            probability_x_charges=item["probability_x_charges"],
            performance=_from_performance(item["performance"]),
        )
        for name, column in item["columns"].items():
            summary.columns[name] = _from_column(column, grids.get(name))
        summaries[(None, summary.slice_key, summary.slice_value)] = summary
    return Baseline(grids, summaries)


def _array(values: FloatArray) -> str:
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def _from_array(text: str) -> FloatArray:
    return np.frombuffer(base64.b64decode(text), dtype="<f8").astype(np.float64)


def _summary(summary: WindowSummary, grids: dict[str, FloatArray]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for name, column in summary.columns.items():
        if isinstance(column, NumericHistogram):
            encoded = {
                "points": _array(column.points),
                "cells": _array(column.cells),
                "cell_sums": _array(column.cell_sums),
                "nulls": column.nulls,
                "sum_squares": column.sum_squares,
                "minimum": column.minimum,
                "maximum": column.maximum,
            }
            shared = grids.get(name)
            if shared is None or not np.array_equal(shared, column.grid):
                encoded["grid"] = _array(column.grid)
            columns[name] = encoded
        else:
            columns[name] = {"counts": column.counts, "nulls": column.nulls}
    p = summary.performance
    return {
        "slice_key": summary.slice_key,
        "slice_value": summary.slice_value,
        "row_count": summary.row_count,
        "predicted_positive_rate": summary.predicted_positive_rate,
        "probability_x_charges": summary.probability_x_charges,
        "columns": columns,
        "performance": {
            **{name: _array(getattr(p, name)) for name in _PERFORMANCE_ARRAYS},
            **{name: float(getattr(p, name)) for name in _PERFORMANCE_NUMBERS},
        },
    }


_PERFORMANCE_ARRAYS = (
    "scores",
    "positives",
    "negatives",
    "ece_count",
    "ece_probability_sum",
    "ece_label_sum",
)
_PERFORMANCE_NUMBERS = ("log_loss_sum", "brier_sum", "tp", "fp", "tn", "fn")


def _from_column(column: dict[str, Any], grid: FloatArray | None) -> Any:
    if "counts" in column:
        return CategoricalCounts(
            {str(k): float(v) for k, v in column["counts"].items()}, column["nulls"]
        )
    own = column.get("grid")
    return NumericHistogram(
        grid=_from_array(own) if own is not None else _required(grid),
        points=_from_array(column["points"]),
        cells=_from_array(column["cells"]),
        cell_sums=_from_array(column["cell_sums"]),
        nulls=column["nulls"],
        sum_squares=column["sum_squares"],
        minimum=column["minimum"],
        maximum=column["maximum"],
    )


def _required(grid: FloatArray | None) -> FloatArray:
    if grid is None:
        raise ValueError("an encoded baseline whose histogram has no grid")
    return grid


def _from_performance(item: dict[str, Any]) -> PerformanceCounts:
    arrays = {name: _from_array(item[name]) for name in _PERFORMANCE_ARRAYS}
    return PerformanceCounts(
        scores=arrays["scores"],
        positives=arrays["positives"],
        negatives=arrays["negatives"],
        log_loss_sum=float(item["log_loss_sum"]),
        brier_sum=float(item["brier_sum"]),
        ece_count=arrays["ece_count"],
        ece_probability_sum=arrays["ece_probability_sum"],
        ece_label_sum=arrays["ece_label_sum"],
        tp=float(item["tp"]),
        fp=float(item["fp"]),
        tn=float(item["tn"]),
        fn=float(item["fn"]),
    )
