"""The retrain policy: thresholds, KS only with an effect size, N of M, one firing per episode."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from pydantic import ValidationError

from churn_monitoring import BASELINE, MonitorPolicy, decide, window_verdicts
from churn_monitoring.metrics import TABLE
from churn_monitoring.policy import WindowVerdict

START = datetime(2026, 3, 1)


def day(i: int) -> datetime:
    return START + timedelta(days=i)


def tables(windows: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profile and drift rows (overall slice) of windows given as {feature: {stat: value}}."""
    profile, drift = [], []
    for i, w in enumerate(windows):
        base = {"window_start": day(i), "slice_key": None, "slice_value": None}
        table = {
            "row_count": w.get("rows", 1000),
            "roc_auc": w.get("auc"),
            "labelled_count": w.get("labelled", 0),
        }
        profile.append({**base, "column_name": TABLE, **table})
        drift.append(
            {
                **base,
                "column_name": TABLE,
                "drift_type": BASELINE,
                "predicted_positive_rate_delta": w.get("ppr", 0.0),
            }
        )
        for column in ("tenure", "contract", "churn_probability"):
            stats = {
                "psi": 0.01,
                "js_distance": None,
                "wasserstein_normalized": 0.01,
                "ks_statistic": 0.01,
                "ks_pvalue": 0.9,
            }
            stats.update(w.get(column, {}))
            drift.append({**base, "column_name": column, "drift_type": BASELINE, **stats})
    return pd.DataFrame(profile), pd.DataFrame(drift)


def verdicts(windows: list[dict], policy: MonitorPolicy, reference: float | None = 0.85):
    profile, drift = tables(windows)
    return window_verdicts(profile, drift, policy, "churn_probability", reference)


def test_thresholds_name_the_drifting_features() -> None:
    policy = MonitorPolicy()
    drifted = {
        "tenure": {"psi": 0.35, "ks_pvalue": 1e-6},
        "contract": {"js_distance": 0.2, "chi_squared_pvalue": 1e-6},
    }
    v = verdicts([{}, drifted], policy)
    assert not v[0].violated
    assert v[1].violated
    assert v[1].drifting == ["contract", "tenure"]  # worst (relative to threshold) first
    assert any("psi 0.350 > 0.2" in r for r in v[1].reasons)


def test_ks_needs_an_effect_size() -> None:
    policy = MonitorPolicy()
    significant_but_tiny = {"tenure": {"ks_statistic": 0.02, "ks_pvalue": 1e-9}}
    large = {"tenure": {"ks_statistic": 0.2, "ks_pvalue": 1e-9}}
    v = verdicts([significant_but_tiny, large], policy)
    assert [x.violated for x in v] == [False, True]


def test_prediction_drift_and_performance_floor() -> None:
    policy = MonitorPolicy()
    v = verdicts(
        [
            {"ppr": 0.15},
            {"churn_probability": {"psi": 0.5, "ks_pvalue": 1e-9}},
            {"auc": 0.80, "labelled": 500},  # 0.05 below 0.85
            {"auc": 0.83, "labelled": 500},  # 0.02 below: within the floor
            {"auc": 0.70, "labelled": 20},  # too few labels to judge performance
        ],
        policy,
    )
    assert [x.violated for x in v] == [True, True, True, False, False]
    assert v[1].drifting == []  # the probability is prediction drift, not a feature
    assert "ROC AUC 0.800" in v[2].reasons[0]


def test_an_effect_size_within_sampling_noise_is_not_drift() -> None:
    """PSI over its threshold with a test that cannot tell the samples apart (a small window) is
    noise; the bar is significance / columns judged (here 3 columns: 0.01 / 3)."""
    policy = MonitorPolicy()
    v = verdicts(
        [
            {"tenure": {"psi": 0.35, "ks_pvalue": 0.02}},
            {"tenure": {"psi": 0.35, "ks_pvalue": 0.004}},  # < 0.01 but not < 0.01 / 3
            {"tenure": {"psi": 0.35, "ks_pvalue": 0.003}},
            {"contract": {"js_distance": 0.2, "chi_squared_pvalue": 0.2, "ks_pvalue": 1e-9}},
        ],
        policy,
    )
    assert [x.violated for x in v] == [False, False, True, False]


def test_small_windows_are_not_judged() -> None:
    v = verdicts([{"rows": 10, "tenure": {"psi": 3.0}}], MonitorPolicy(min_window_rows=100))
    assert not v[0].judged
    assert not v[0].violated


def flags(*violated: bool) -> list[WindowVerdict]:
    return [
        WindowVerdict(day(i), True, ["tenure"] if bad else [], ["x"] if bad else [])
        for i, bad in enumerate(violated)
    ]


def test_n_of_m_then_one_firing_per_episode() -> None:
    policy = MonitorPolicy(violations=2, of_last=3, cooldown_windows=1)
    assert not decide(flags(False, True, False, False), policy, None).fire
    fired = decide(flags(False, True, False, True), policy, None)
    assert fired.fire
    assert fired.window_start == day(3)
    assert fired.drifting == ["tenure"]
    # the next runs see more violating windows of the same episode: no new firing
    assert not decide(flags(False, True, False, True, True, True), policy, day(3)).fire
    # one clean window ends the episode; two new violations fire again
    again = decide(flags(False, True, False, True, True, False, True, True), policy, day(3))
    assert again.fire
    assert again.window_start == day(7)
    # a rerun over the same windows after that firing does not fire twice
    assert not decide(flags(False, True, False, True, True, False, True, True), policy, day(7)).fire


def test_policy_is_validated() -> None:
    with pytest.raises(ValidationError, match="violations"):
        MonitorPolicy(violations=4, of_last=3)
    with pytest.raises(ValidationError):
        MonitorPolicy.model_validate({"thresholds": {"psi": -1}})
    with pytest.raises(ValidationError):
        MonitorPolicy.model_validate({"threshold": {}})  # a typo is an error
