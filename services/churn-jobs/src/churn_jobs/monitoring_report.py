"""The monitoring run's HTML report: one self-contained file (plots embedded as PNG).

Sections: the verdict and its reasons; baseline vs latest window distribution of each drifting
feature; PSI / Jensen-Shannon per feature for the latest window; realized performance, predicted
positive rate and expected loss over time.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from churn_monitoring import Decision, MonitorResult
    from churn_registry_ops import ModelVersionInfo

MAX_FEATURE_PLOTS = 6


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _distribution(name: str, baseline: Any, current: Any) -> str:
    import matplotlib.pyplot as plt
    import numpy as np

    from churn_monitoring.histograms import CategoricalCounts
    from churn_monitoring.stattests import psi_bin_counts

    figure, ax = plt.subplots(figsize=(6, 3))
    if isinstance(baseline, CategoricalCounts):
        keys = sorted(set(baseline.counts) | set(current.counts))
        b = np.array([baseline.counts.get(k, 0.0) for k in keys])
        c = np.array([current.counts.get(k, 0.0) for k in keys])
        labels = keys
    else:
        edges, b, c = psi_bin_counts(baseline, current)
        labels = [f"≤{e:.3g}" for e in edges] + [f">{edges[-1]:.3g}" if len(edges) else "all"]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, b / max(b.sum(), 1), 0.4, label="baseline (training rows)")
    ax.bar(x + 0.2, c / max(c.sum(), 1), 0.4, label="latest window")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("share")
    ax.set_title(name)
    ax.legend(fontsize=7)
    return _png(figure)


def _bars(latest: Any) -> str:
    import matplotlib.pyplot as plt

    rows = latest[latest["column_name"] != ":table"].copy()
    rows["score"] = rows["psi"].fillna(0.0)
    rows = rows.sort_values("score")
    figure, ax = plt.subplots(figsize=(6, max(2.5, 0.22 * len(rows))))
    ax.barh(rows["column_name"], rows["psi"].fillna(0.0), label="PSI", alpha=0.7)
    ax.barh(rows["column_name"], rows["js_distance"].fillna(0.0), label="JS distance", alpha=0.7)
    ax.axvline(0.2, color="red", linestyle="--", linewidth=1, label="PSI 0.2")
    ax.axvline(0.1, color="orange", linestyle=":", linewidth=1, label="JS 0.1")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title("drift vs baseline, latest window")
    return _png(figure)


def _over_time(overall: Any) -> str:
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(12, 3))
    x = overall["window_start"]
    axes[0].plot(x, overall["roc_auc"], marker="o")
    axes[0].set_title("ROC AUC (labelled rows)")
    axes[1].plot(x, overall["predicted_positive_rate"], marker="o", color="tab:orange")
    axes[1].set_title("predicted positive rate")
    axes[2].bar(x.astype(str), overall["expected_loss"], color="tab:red")
    axes[2].set_title("expected loss")
    for ax in axes:
        ax.tick_params(axis="x", rotation=45, labelsize=7)
    return _png(figure)


def write_report(
    path: Path,
    champion: ModelVersionInfo,
    profile: Any,
    drift: Any,
    decision: Decision,
    result: MonitorResult | None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from churn_monitoring.metrics import TABLE

    parts = [
        "<html><head><meta charset='utf-8'><title>churn monitoring</title>",
        "<style>body{font-family:sans-serif;margin:2em} td,th{padding:2px 8px}</style>",
        "</head><body>",
        f"<h1>{html.escape(champion.name)} v{html.escape(str(champion.version))}: "
        f"{html.escape(decision.status)}</h1>",
        f"<p>policy fired: <b>{decision.fire}</b>; drifting features: "
        f"<b>{html.escape(', '.join(decision.drifting) or '-')}</b></p><ul>",
        *[f"<li>{html.escape(r)}</li>" for r in decision.reasons],
        "</ul><h2>Windows</h2><table><tr><th>window</th><th>judged</th><th>reasons</th></tr>",
        *[
            f"<tr><td>{v.window_start:%Y-%m-%d}</td><td>{v.judged}</td>"
            f"<td>{html.escape('; '.join(v.reasons) or 'ok')}</td></tr>"
            for v in decision.verdicts
        ],
        "</table>",
    ]
    if result is not None and result.summaries and decision.drifting:
        latest = max(w for w in result.windows)
        parts.append("<h2>Drifting features: baseline vs latest window</h2>")
        for name in decision.drifting[:MAX_FEATURE_PLOTS]:
            current = result.summaries.get((latest, None, None))
            baseline = result.baseline.get((None, None, None))
            if current and baseline and name in current.columns:
                parts.append(_distribution(name, baseline.columns[name], current.columns[name]))
    base = drift[drift["slice_key"].isna() & (drift["drift_type"] == "BASELINE")]
    if len(base):
        parts.append("<h2>PSI / Jensen-Shannon</h2>")
        parts.append(_bars(base[base["window_start"] == base["window_start"].max()]))
    overall = profile[(profile["column_name"] == TABLE) & profile["slice_key"].isna()]
    if len(overall):
        overall = overall.sort_values("window_start")
        parts.append("<h2>Performance and business view over time</h2>")
        parts.append(_over_time(overall))
        parts.append(
            "<table><tr><th>window</th><th>rows</th><th>labelled</th><th>ROC AUC</th>"
            "<th>expected loss</th><th>value captured</th></tr>"
        )
        for _, row in overall.iterrows():
            cells = [
                f"{row['window_start']:%Y-%m-%d}",
                *[
                    _fmt(row.get(c))
                    for c in (
                        "row_count",
                        "labelled_count",
                        "roc_auc",
                        "expected_loss",
                        "value_captured",
                    )
                ],
            ]
            parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.3f}" if abs(float(value)) < 10 else f"{value:,.0f}"
