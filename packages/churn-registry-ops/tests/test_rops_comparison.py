"""compare(): the pure champion/challenger decision."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import numpy as np
import pytest
from mlflow.models import EvaluationResult
from mlflow.models.evaluation.validation import ModelValidationFailedException
from pydantic import ValidationError
from sklearn.metrics import log_loss, roc_auc_score

from churn_registry_ops import (
    BootstrapSettings,
    ComparisonRule,
    InvalidComparisonInput,
    compare,
    compute_metrics,
)


def _scores(n: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels plus two score vectors whose ranking quality grows with `signal`."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    noise_a, noise_b = rng.normal(size=n), rng.normal(size=n)
    weak = 1 / (1 + np.exp(-(0.6 * (y - 0.5) + noise_a)))
    strong = 1 / (1 + np.exp(-(signal * (y - 0.5) + noise_b)))
    return y, weak, strong


def test_default_rule_promotes_strictly_better_and_keeps_equal() -> None:
    y, weak, strong = _scores(400, 2.5, seed=0)
    rule = ComparisonRule()
    assert rule.metric == "roc_auc"
    better = compare(weak, strong, y, rule)
    assert better.promote
    assert better.improvement == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    # the seed's rule is "strictly better": a tie keeps the champion
    tie = compare(weak, weak.copy(), y, rule)
    assert not tie.promote
    assert "not better" in tie.reasons[0]
    worse = compare(strong, weak, y, rule)
    assert not worse.promote


def test_min_improvement_absolute_and_relative() -> None:
    y, weak, strong = _scores(400, 2.0, seed=1)
    champ_auc, chall_auc = roc_auc_score(y, weak), roc_auc_score(y, strong)
    gain = chall_auc - champ_auc
    assert gain > 0.02  # the data gives a clear gap to put thresholds around

    assert compare(weak, strong, y, ComparisonRule(min_improvement=gain * 0.9)).promote
    missed = compare(weak, strong, y, ComparisonRule(min_improvement=gain * 1.1))
    assert not missed.promote
    assert "misses" in missed.reasons[0]

    rel = gain / champ_auc
    near = ComparisonRule(min_improvement=rel * 0.9, improvement="relative")
    far = ComparisonRule(min_improvement=rel * 1.1, improvement="relative")
    assert compare(weak, strong, y, near).promote
    assert not compare(weak, strong, y, far).promote
    assert compare(weak, strong, y, near).relative_improvement == pytest.approx(rel)


def test_lower_is_better_metric_direction() -> None:
    y, weak, strong = _scores(400, 2.5, seed=2)
    assert log_loss(y, strong) < log_loss(y, weak)
    rule = ComparisonRule(metric="log_loss")
    assert not rule.higher_is_better
    decision = compare(weak, strong, y, rule)
    assert decision.promote
    assert decision.improvement == pytest.approx(log_loss(y, weak) - log_loss(y, strong))
    assert not compare(strong, weak, y, rule).promote
    # stating the natural direction is fine, contradicting it is a config error
    assert ComparisonRule(metric="brier", greater_is_better=False).higher_is_better is False
    with pytest.raises(ValidationError, match="lower is better"):
        ComparisonRule(metric="log_loss", greater_is_better=True)


def test_guard_rail_blocks_a_better_ranking_with_worse_calibration() -> None:
    y, weak, strong = _scores(400, 2.5, seed=3)
    overconfident = strong**0.15  # monotonic: same AUC, probabilities pushed towards 1
    assert roc_auc_score(y, overconfident) == pytest.approx(roc_auc_score(y, strong))
    strict = ComparisonRule(guard_rails={"brier": 0.01})
    blocked = compare(weak, overconfident, y, strict)
    assert not blocked.promote
    assert any("guard rail brier" in r and "violated" in r for r in blocked.reasons)
    assert compare(weak, strong, y, strict).promote
    tolerant = ComparisonRule(guard_rails={"brier": 1.0})
    assert compare(weak, overconfident, y, tolerant).promote


def test_bootstrap_ci_rejects_a_tiny_noisy_gain_and_accepts_a_clear_one() -> None:
    rng = np.random.default_rng(4)
    n = 150
    y = rng.integers(0, 2, n)
    champ = 1 / (1 + np.exp(-(0.8 * (y - 0.5) + rng.normal(size=n))))
    chall = np.clip(champ + rng.normal(scale=0.01, size=n), 0, 1)  # same model, jittered
    plain = ComparisonRule()
    ci_rule = ComparisonRule(bootstrap=BootstrapSettings(n_resamples=200, seed=7))
    # pick a jitter that happens to be (barely) better, as a lucky retrain would
    for seed in range(50):
        jitter = np.random.default_rng(seed).normal(scale=0.02, size=n)
        chall = np.clip(champ + jitter, 0, 1)
        if compare(champ, chall, y, plain).promote:
            break
    else:
        pytest.fail("no slightly better jitter found")
    assert compare(champ, chall, y, plain).improvement < 0.02
    noisy = compare(champ, chall, y, ci_rule)
    assert noisy.ci is not None
    assert noisy.ci.lower <= 0 < noisy.ci.upper
    assert not noisy.promote

    y2, weak, strong = _scores(400, 3.0, seed=5)
    clear = compare(weak, strong, y2, ci_rule)
    assert clear.ci is not None
    assert clear.ci.lower > 0
    assert clear.promote
    # same seed, same interval: the decision is reproducible
    assert compare(weak, strong, y2, ci_rule).ci == clear.ci


@pytest.mark.parametrize("seed", range(6))
def test_primary_metric_agrees_with_mlflow_validate_evaluation_results(seed: int) -> None:
    """The rule's MetricThreshold form and our decision say the same thing (no guard rails)."""
    rng = np.random.default_rng(100 + seed)
    metric = ["roc_auc", "log_loss", "brier"][seed % 3]
    y, a, b = _scores(300, float(rng.uniform(0.2, 2.5)), seed=seed)
    if seed % 2:
        a, b = b, a
    rule = ComparisonRule(
        metric=metric,
        min_improvement=float(rng.choice([0.0, 0.01, 0.05])),
        improvement="relative" if seed >= 3 else "absolute",
    )
    ours = compare(a, b, y, rule).promote
    champ, chall = compute_metrics(y, a), compute_metrics(y, b)
    try:
        mlflow.validate_evaluation_results(
            rule.to_metric_thresholds(),
            EvaluationResult(metrics=chall, artifacts={}),
            EvaluationResult(metrics=champ, artifacts={}),
        )
        theirs = True
    except ModelValidationFailedException:
        theirs = False
    assert ours == theirs


def test_decision_carries_both_metric_sets_for_logging() -> None:
    y, weak, strong = _scores(300, 2.0, seed=6)
    rule = ComparisonRule(guard_rails={"log_loss": 0.05})
    d = compare(weak, strong, y, rule)
    flat = d.to_mlflow_metrics()
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "f1"):
        assert flat[f"champion_{name}"] == pytest.approx(d.champion_metrics[name])
        assert flat[f"challenger_{name}"] == pytest.approx(d.challenger_metrics[name])
    assert flat["promote"] == (1.0 if d.promote else 0.0)
    assert d.champion_metrics["roc_auc"] == pytest.approx(roc_auc_score(y, weak))
    params = rule.to_mlflow_params()
    assert params["rule.metric"] == "roc_auc"
    assert params["rule.guard_rail.log_loss"] == "0.05"
    assert ComparisonRule.model_validate_json(d.rule.model_dump_json()) == rule


def test_rule_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValidationError, match="extra"):
        ComparisonRule.model_validate({"metric": "roc_auc", "min_improvment": 0.01})
    with pytest.raises(ValidationError):
        ComparisonRule.model_validate({"metric": "auc"})
    with pytest.raises(ValidationError):
        ComparisonRule(min_improvement=-0.1)
    with pytest.raises(ValidationError, match="fraction"):
        ComparisonRule(min_improvement=5, improvement="relative")
    with pytest.raises(ValidationError, match="primary metric"):
        ComparisonRule(metric="roc_auc", guard_rails={"roc_auc": 0.01})


def test_unusable_inputs_raise_a_clear_error() -> None:
    y, weak, strong = _scores(100, 2.0, seed=7)
    with pytest.raises(InvalidComparisonInput, match="same length"):
        compare(weak, strong[:-1], y, ComparisonRule())
    bad = strong.copy()
    bad[3] = np.nan
    with pytest.raises(InvalidComparisonInput, match=r"finite probabilities in \[0, 1\]"):
        compare(weak, bad, y, ComparisonRule())
    with pytest.raises(InvalidComparisonInput, match="single class"):
        compare(weak, strong, np.ones_like(y), ComparisonRule())
    # hard labels are not probabilities: AUC on 0/1 predictions is what the seed got wrong,
    # but 0/1 are valid values; 2-d input is not
    with pytest.raises(InvalidComparisonInput, match="1-d"):
        compare(weak, np.column_stack([1 - strong, strong]), y, ComparisonRule())


def test_comparison_rule_and_errors_import_without_scikit_learn_or_mlflow() -> None:
    """Job parameters are typed with the rule (`model-deployment`'s `rule`), and every churn
    command catches the errors, even one that ends at a typo: both must stay cheap."""
    code = (
        "import sys; from churn_registry_ops import ComparisonRule; "
        "from churn_registry_ops.rule import ComparisonRule as R; "
        "from churn_registry_ops.errors import RegistryOpsError; "
        "assert ComparisonRule is R; R.model_validate({'metric': 'brier'}); "
        "print('sklearn' in sys.modules, 'mlflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False False"
