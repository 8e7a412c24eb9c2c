"""Rows of the two monitor tables, from summaries: one statistic per column, like Databricks'.

Profile rows (``<predictions>_profile_metrics``): per window, slice and column, the column's
profile; the row whose ``column_name`` is ``:table`` holds the table-level numbers (row count,
predicted positive rate, realized performance, business view).

Drift rows (``<predictions>_drift_metrics``): per window, slice, column and drift type
(``BASELINE``: against the champion's training rows; ``CONSECUTIVE``: against the previous
window), every registered kernel that applies to the column's kind; on ``:table``, the change
of the predicted positive rate.
"""

from __future__ import annotations

import math
from typing import Any

from churn_monitoring.aggregate import MonitorSpec, WindowSummary
from churn_monitoring.business import BusinessParams, expected_loss, value_captured
from churn_monitoring.histograms import CategoricalCounts, NumericHistogram
from churn_monitoring.performance import metrics as performance_metrics
from churn_monitoring.stattests import get_stattest, unseen_categories

TABLE = ":table"

PROFILE_STATISTICS = (
    "count",
    "null_count",
    "null_share",
    "mean",
    "stddev",
    "min",
    "max",
    "distinct_count",
    "row_count",
    "predicted_positive_rate",
    "expected_loss",
    "labelled_count",
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "tp",
    "fp",
    "tn",
    "fn",
    "value_captured",
)
DRIFT_STATISTICS = (
    "count",
    "baseline_count",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "wasserstein_normalized",
    "chi_squared_statistic",
    "chi_squared_pvalue",
    "js_distance",
    "tv_distance",
    "l_infinity_distance",
    "null_share_delta",
    "predicted_positive_rate_delta",
)


def _clean(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def profile_rows(
    summary: WindowSummary, spec: MonitorSpec, business: BusinessParams
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, s in summary.columns.items():
        row: dict[str, Any] = {
            "column_name": name,
            "count": s.count,
            "null_count": s.nulls,
            "null_share": s.nulls / s.total if s.total else None,
        }
        if isinstance(s, NumericHistogram):
            row.update(mean=s.mean, stddev=s.std, min=s.minimum, max=s.maximum)
        else:
            row["distinct_count"] = float(len([v for v in s.counts.values() if v > 0]))
        rows.append(row)
    table: dict[str, Any] = {
        "column_name": TABLE,
        "row_count": summary.row_count,
        "predicted_positive_rate": summary.predicted_positive_rate,
        "expected_loss": expected_loss(summary.probability_x_charges, business),
    }
    perf = performance_metrics(summary.performance)
    table.update(perf)
    if perf["labelled_count"]:
        table["value_captured"] = value_captured(perf["tp"], perf["fp"], business)
    rows.append(table)
    return [{k: _clean(v) if k in PROFILE_STATISTICS else v for k, v in r.items()} for r in rows]


def drift_rows(
    baseline: WindowSummary, current: WindowSummary, spec: MonitorSpec
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for name, s in current.columns.items():
        b = baseline.columns[name]
        row: dict[str, Any] = {
            "column_name": name,
            "count": s.count,
            "baseline_count": b.count,
            "psi": get_stattest("psi").compute(b, s).statistic,
            "null_share_delta": (s.nulls / s.total if s.total else math.nan)
            - (b.nulls / b.total if b.total else math.nan),
            "unseen_categories": None,
        }
        if isinstance(s, NumericHistogram):
            ks = get_stattest("ks").compute(b, s)
            row.update(
                ks_statistic=ks.statistic,
                ks_pvalue=ks.p_value,
                wasserstein_normalized=get_stattest("wasserstein").compute(b, s).statistic,
            )
        else:
            assert isinstance(b, CategoricalCounts)
            chi = get_stattest("chisquare").compute(b, s)
            row.update(
                chi_squared_statistic=chi.statistic,
                chi_squared_pvalue=chi.p_value,
                js_distance=get_stattest("jensenshannon").compute(b, s).statistic,
                tv_distance=get_stattest("tvd").compute(b, s).statistic,
                l_infinity_distance=get_stattest("linf").compute(b, s).statistic,
                unseen_categories=unseen_categories(b, s),
            )
        rows.append(row)
    rows.append(
        {
            "column_name": TABLE,
            "count": current.row_count,
            "baseline_count": baseline.row_count,
            "predicted_positive_rate_delta": current.predicted_positive_rate
            - baseline.predicted_positive_rate,
            "unseen_categories": None,
        }
    )
    return [{k: _clean(v) if k in DRIFT_STATISTICS else v for k, v in r.items()} for r in rows]
