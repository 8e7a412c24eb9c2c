"""When monitoring acts: thresholds per statistic, "N of the last M windows", and a cool-down.

A window **violates** when, on the whole window (slices are reported, not acted on), any
monitored feature drifts from the baseline (PSI, Jensen-Shannon or normalised Wasserstein above
its threshold; KS only with its effect size: p-value below ``ks_pvalue`` *and* statistic at least
``ks_min_statistic``, since on large windows any difference is significant), the probability
drifts the same way or the predicted positive rate moves by more than its threshold, or, once at
least ``min_labelled_rows`` labels exist, the ROC AUC falls more than ``max_roc_auc_drop`` below
the champion's own reference. Windows with fewer than ``min_window_rows`` rows are not judged.

An effect size over its threshold counts only when the column's two-sample test (KS for numbers,
chi-squared for categories) also rejects "same distribution" at ``significance`` divided by the
number of columns judged (Bonferroni): on a window of a few hundred rows, sampling noise alone
moves PSI or a normalised Wasserstein distance past 0.1 now and then, and with two dozen columns
per window some column always does. Large windows make every test significant, so the effect
size still decides there; small ones no longer raise false alarms.

The policy **fires** when ``violations`` of the last ``of_last`` judged windows violate. A firing
opens an episode: no further firing for the same model version until ``cooldown_windows``
consecutive clean windows close it (and windows up to the firing never count again), so one drift
episode triggers one retraining, not one per run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from churn_monitoring.metrics import TABLE
from churn_monitoring.monitor import BASELINE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DriftThresholds(_Strict):
    psi: float = Field(default=0.2, gt=0)
    jensenshannon: float = Field(default=0.1, gt=0)
    wasserstein: float = Field(default=0.1, gt=0, description="normalised by the baseline std")
    ks_pvalue: float = Field(default=0.05, gt=0, lt=1)
    ks_min_statistic: float = Field(default=0.1, gt=0, le=1, description="KS effect size")
    predicted_positive_rate_delta: float = Field(default=0.1, gt=0)
    significance: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="family-wise false-alarm rate per window: an effect size counts only when "
        "the column's two-sample test has p < significance / columns judged (Bonferroni)",
    )


class MonitorPolicy(_Strict):
    thresholds: DriftThresholds = DriftThresholds()
    max_roc_auc_drop: float = Field(default=0.03, ge=0)
    min_window_rows: int = Field(default=100, ge=1)
    min_labelled_rows: int = Field(default=100, ge=1)
    violations: int = Field(default=2, ge=1, description="N: violating windows to fire")
    of_last: int = Field(default=3, ge=1, description="M: among the last M judged windows")
    cooldown_windows: int = Field(default=1, ge=1, description="clean windows ending an episode")
    prediction_drift: bool = True
    columns: list[str] | None = Field(default=None, description="None: every monitored feature")

    @model_validator(mode="after")
    def _n_of_m(self) -> MonitorPolicy:
        if self.violations > self.of_last:
            raise ValueError(f"violations ({self.violations}) > of_last ({self.of_last})")
        return self


@dataclass(frozen=True)
class WindowVerdict:
    window_start: datetime
    judged: bool
    drifting: list[str] = field(default_factory=list)  # feature names, worst first
    reasons: list[str] = field(default_factory=list)

    @property
    def violated(self) -> bool:
        return self.judged and bool(self.reasons)


@dataclass(frozen=True)
class Decision:
    fire: bool
    window_start: datetime | None  # the window that fired (or the latest judged one)
    episode_open: bool
    verdicts: list[WindowVerdict]
    drifting: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        latest = next((v for v in reversed(self.verdicts) if v.judged), None)
        if latest is None:
            return "no_data"
        return "drift" if latest.violated else "ok"


def _value(row: pd.Series, name: str) -> float:
    value = row.get(name)
    return float("nan") if value is None or pd.isna(value) else float(value)


def _test_pvalue(row: pd.Series) -> float:
    """The column's two-sample test: chi-squared for a category, else KS (NaN: undefined)."""
    chi = _value(row, "chi_squared_pvalue")
    return chi if not math.isnan(chi) else _value(row, "ks_pvalue")


def window_verdicts(
    profile: pd.DataFrame,
    drift: pd.DataFrame,
    policy: MonitorPolicy,
    probability_column: str,
    reference_roc_auc: float | None,
) -> list[WindowVerdict]:
    """A verdict per window from the monitor tables' rows (overall slice, baseline drift)."""
    if profile.empty:
        return []
    t = policy.thresholds
    overall_profile = profile[profile["slice_key"].isna()]
    overall_drift = drift[drift["slice_key"].isna() & (drift["drift_type"] == BASELINE)]
    verdicts = []
    for start, rows in overall_profile.groupby("window_start"):
        table = rows[rows["column_name"] == TABLE].iloc[0]
        judged = _value(table, "row_count") >= policy.min_window_rows
        scores: dict[str, float] = {}
        reasons: list[str] = []
        judged_rows = []
        for _, d in overall_drift[overall_drift["window_start"] == start].iterrows():
            name = d["column_name"]
            if name == TABLE:
                delta = _value(d, "predicted_positive_rate_delta")
                if policy.prediction_drift and abs(delta) > t.predicted_positive_rate_delta:
                    reasons.append(f"predicted positive rate moved {delta:+.3f}")
                continue
            is_prediction = name == probability_column
            if is_prediction and not policy.prediction_drift:
                continue
            if not is_prediction and policy.columns is not None and name not in policy.columns:
                continue
            judged_rows.append(d)
        alpha = t.significance / max(len(judged_rows), 1)
        for d in judged_rows:
            name = d["column_name"]
            is_prediction = name == probability_column
            p_value = _test_pvalue(d)
            if not p_value < alpha and not math.isnan(p_value):
                continue  # within sampling noise, whatever the effect size says
            found = []
            for stat, limit in (
                ("psi", t.psi),
                ("js_distance", t.jensenshannon),
                ("wasserstein_normalized", t.wasserstein),
            ):
                value = _value(d, stat)
                if value > limit:
                    found.append(f"{stat} {value:.3f} > {limit}")
                    scores[name] = max(scores.get(name, 0.0), value / limit)
            ks, p = _value(d, "ks_statistic"), _value(d, "ks_pvalue")
            if p < t.ks_pvalue and ks >= t.ks_min_statistic:
                found.append(f"ks {ks:.3f} (p={p:.2g})")
                scores[name] = max(scores.get(name, 0.0), ks / t.ks_min_statistic)
            if found:
                label = "prediction drift" if is_prediction else f"{name} drifts"
                reasons.append(f"{label}: {', '.join(found)}")
        auc = _value(table, "roc_auc")
        labelled = _value(table, "labelled_count")
        if (
            reference_roc_auc is not None
            and not math.isnan(auc)
            and labelled >= policy.min_labelled_rows
            and reference_roc_auc - auc > policy.max_roc_auc_drop
        ):
            reasons.append(
                f"ROC AUC {auc:.3f} is {reference_roc_auc - auc:.3f} below the reference "
                f"{reference_roc_auc:.3f} (> {policy.max_roc_auc_drop})"
            )
        drifting = [
            c for c, _ in sorted(scores.items(), key=lambda kv: -kv[1]) if c != probability_column
        ]
        verdicts.append(
            WindowVerdict(
                pd.Timestamp(str(start)).to_pydatetime(),
                judged,
                drifting,
                reasons if judged else [],
            )
        )
    return sorted(verdicts, key=lambda v: v.window_start)


def decide(
    verdicts: Sequence[WindowVerdict], policy: MonitorPolicy, last_fired: datetime | None
) -> Decision:
    """Replay the windows after ``last_fired`` (the version's last firing, None if never)."""
    episode_open = last_fired is not None
    clean_run = 0
    history: list[WindowVerdict] = []
    fired: WindowVerdict | None = None
    for v in verdicts:
        if not v.judged or (last_fired is not None and v.window_start <= last_fired):
            continue
        if episode_open:
            clean_run = 0 if v.violated else clean_run + 1
            if clean_run >= policy.cooldown_windows:
                episode_open, history = False, []
            continue
        history.append(v)
        if sum(h.violated for h in history[-policy.of_last :]) >= policy.violations:
            fired, episode_open, clean_run, history = v, True, 0, []
    if fired is not None:
        recent = [v for v in verdicts if v.violated and v.window_start <= fired.window_start]
        drifting: list[str] = []
        for v in recent[-policy.of_last :]:
            drifting += [c for c in v.drifting if c not in drifting]
        return Decision(True, fired.window_start, True, list(verdicts), drifting, fired.reasons)
    latest = next((v for v in reversed(verdicts) if v.judged), None)
    return Decision(
        False,
        latest.window_start if latest else None,
        episode_open,
        list(verdicts),
        latest.drifting if latest else [],
        latest.reasons if latest else [],
    )
