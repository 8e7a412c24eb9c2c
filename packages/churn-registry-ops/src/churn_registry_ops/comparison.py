"""Champion/challenger decision: a pure function of two score arrays, the labels and a rule.

No MLflow, no I/O: scores are churn probabilities, metrics are churn-model's (`churn_model.
evaluation.score`, scikit-learn underneath). The rule (`rule.ComparisonRule`) can be converted to
MLflow's `MetricThreshold` for logging or for `mlflow.validate_evaluation_results`, which applies
the same "at least X better" semantics to the primary metric.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import sklearn
from pydantic import BaseModel, ConfigDict

from churn_model.evaluation import METRIC_NAMES, score
from churn_registry_ops.errors import InvalidComparisonInput
from churn_registry_ops.rule import GREATER_IS_BETTER, BootstrapSettings, ComparisonRule, MetricName

# Float slack so that e.g. 0.85 - 0.80 counts as an improvement of 0.05.
_EPS = 1e-12


def _all_metrics(
    y: npt.NDArray[np.int64], p: npt.NDArray[np.float64], t: float
) -> dict[str, float]:
    return {name: score(name, y, p, t) for name in METRIC_NAMES}


class ConfidenceInterval(BaseModel):
    model_config = ConfigDict(frozen=True)

    lower: float
    upper: float
    confidence: float
    n_resamples: int
    #: resamples with both classes present (others cannot be scored and are dropped)
    n_used: int


class Decision(BaseModel):
    """The comparison's outcome with everything needed to log and explain it."""

    model_config = ConfigDict(frozen=True)

    promote: bool
    reasons: list[str]
    rule: ComparisonRule
    champion_metrics: dict[str, float]
    challenger_metrics: dict[str, float]
    #: primary-metric change in the "better" direction (positive = challenger better)
    improvement: float
    relative_improvement: float | None
    ci: ConfidenceInterval | None = None
    n_rows: int

    def to_mlflow_metrics(self) -> dict[str, float]:
        """Flat metrics for the deployment run: both metric sets, the improvement, the decision."""
        out: dict[str, float] = {}
        for name, value in self.champion_metrics.items():
            out[f"champion_{name}"] = value
        for name, value in self.challenger_metrics.items():
            out[f"challenger_{name}"] = value
        out["improvement"] = self.improvement
        if self.relative_improvement is not None:
            out["relative_improvement"] = self.relative_improvement
        if self.ci is not None:
            out["improvement_ci_lower"] = self.ci.lower
            out["improvement_ci_upper"] = self.ci.upper
        out["promote"] = 1.0 if self.promote else 0.0
        out["n_rows"] = float(self.n_rows)
        return out

    def summary(self) -> str:
        verdict = "PROMOTE challenger" if self.promote else "KEEP champion"
        return f"{verdict}: " + "; ".join(self.reasons)


def compute_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, *, threshold: float = 0.5
) -> dict[str, float]:
    """Every supported metric for one model's probabilities."""
    y, p = _as_labels(labels), _as_scores(scores, "scores")
    _check_lengths(y, p, p)
    with _fast_sklearn():
        return _all_metrics(y, p, threshold)


def compare(
    champion_scores: npt.ArrayLike,
    challenger_scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    rule: ComparisonRule,
    *,
    champion_threshold: float = 0.5,
    challenger_threshold: float = 0.5,
) -> Decision:
    """Decide whether the challenger replaces the champion. Pure and deterministic.

    Scores are churn probabilities of the same rows in the same order as `labels` (0/1).
    Thresholds only matter for the hard-label metrics (f1, precision, recall, accuracy).
    """
    y = _as_labels(labels)
    champ = _as_scores(champion_scores, "champion_scores")
    chall = _as_scores(challenger_scores, "challenger_scores")
    _check_lengths(y, champ, chall)

    with _fast_sklearn():
        champion_metrics = _all_metrics(y, champ, champion_threshold)
        challenger_metrics = _all_metrics(y, chall, challenger_threshold)

    metric = rule.metric
    better = "higher" if rule.higher_is_better else "lower"
    base, cand = champion_metrics[metric], challenger_metrics[metric]
    improvement = _signed(cand - base, rule.higher_is_better)
    relative = improvement / abs(base) if base != 0 else None
    reasons: list[str] = []
    passed = True

    head = f"{metric} {cand:.4f} vs champion {base:.4f} ({better} is better, "
    head += f"change {improvement:+.4f}"
    head += f", {relative:+.2%})" if relative is not None else ")"
    if improvement <= _EPS:
        passed = False
        reasons.append(f"{head}: challenger is not better")
    elif rule.min_improvement > 0:
        if rule.improvement == "absolute":
            ok = improvement >= rule.min_improvement - _EPS
            need = f"at least {rule.min_improvement:.4f} better"
        else:
            # a zero baseline has no scale: fall back to "strictly better" as MLflow does
            ok = relative is None or relative >= rule.min_improvement - _EPS
            need = f"at least {rule.min_improvement:.2%} better"
        passed &= ok
        reasons.append(f"{head}: {'meets' if ok else 'misses'} the required {need}")
    else:
        reasons.append(f"{head}: challenger is better")

    for name, tolerance in sorted(rule.guard_rails.items()):
        higher = GREATER_IS_BETTER[name]
        worsening = -_signed(challenger_metrics[name] - champion_metrics[name], higher)
        ok = worsening <= tolerance + _EPS
        passed &= ok
        reasons.append(
            f"guard rail {name}: {challenger_metrics[name]:.4f} vs champion "
            f"{champion_metrics[name]:.4f} ({'worse' if worsening > 0 else 'not worse'} by "
            f"{max(worsening, 0.0):.4f}, tolerance {tolerance:.4f}): {'ok' if ok else 'violated'}"
        )

    ci = None
    if rule.bootstrap is not None:
        ci = _paired_bootstrap(y, champ, chall, rule, champion_threshold, challenger_threshold)
        ok = ci.lower > 0
        passed &= ok
        reasons.append(
            f"{ci.confidence:.0%} bootstrap CI of the {metric} improvement "
            f"[{ci.lower:+.4f}, {ci.upper:+.4f}] ({ci.n_used} resamples): "
            + ("lower bound > 0" if ok else "includes 0 or below: not a significant improvement")
        )

    return Decision(
        promote=passed,
        reasons=reasons,
        rule=rule,
        champion_metrics=champion_metrics,
        challenger_metrics=challenger_metrics,
        improvement=improvement,
        relative_improvement=relative,
        ci=ci,
        n_rows=int(y.shape[0]),
    )


def _signed(delta: float, higher_is_better: bool) -> float:
    return delta if higher_is_better else -delta


def _paired_bootstrap(
    y: npt.NDArray[np.int64],
    champ: npt.NDArray[np.float64],
    chall: npt.NDArray[np.float64],
    rule: ComparisonRule,
    champion_threshold: float,
    challenger_threshold: float,
) -> ConfidenceInterval:
    settings = rule.bootstrap
    assert settings is not None
    metric = rule.metric
    rng = np.random.default_rng(settings.seed)
    n = y.shape[0]
    diffs: list[float] = []
    with _fast_sklearn():
        for _ in range(settings.n_resamples):
            idx = rng.integers(0, n, n)
            yy = y[idx]
            if yy.min() == yy.max():  # one class only: the metric is undefined on this resample
                continue
            d = score(metric, yy, chall[idx], challenger_threshold) - score(
                metric, yy, champ[idx], champion_threshold
            )
            diffs.append(_signed(d, rule.higher_is_better))
    if len(diffs) < settings.n_resamples // 2:
        raise InvalidComparisonInput(
            f"only {len(diffs)} of {settings.n_resamples} bootstrap resamples hold both classes; "
            "the reference set is too small or too imbalanced for a confidence interval"
        )
    alpha = (1.0 - settings.confidence) / 2.0
    lower, upper = np.quantile(np.asarray(diffs), [alpha, 1.0 - alpha])
    return ConfidenceInterval(
        lower=float(lower),
        upper=float(upper),
        confidence=settings.confidence,
        n_resamples=settings.n_resamples,
        n_used=len(diffs),
    )


def _fast_sklearn() -> Any:
    # inputs are validated once here; skipping sklearn's per-call checks makes bootstrap ~2x faster
    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


def _as_scores(values: npt.ArrayLike, what: str) -> npt.NDArray[np.float64]:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidComparisonInput(f"{what} must be numeric probabilities: {exc}") from exc
    if arr.ndim != 1:
        raise InvalidComparisonInput(
            f"{what} must be 1-d (one probability per row), got shape {arr.shape}"
        )
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > 1)
    if bad.any():
        raise InvalidComparisonInput(
            f"{what} must be finite probabilities in [0, 1]; {int(bad.sum())} values are not "
            f"(first: {arr[bad][0]!r})"
        )
    return arr


def _as_labels(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidComparisonInput(f"labels must be 1-d, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.int64)
    uniq = set(np.unique(arr).tolist())
    if not uniq <= {0, 1}:
        raise InvalidComparisonInput(f"labels must be 0/1, found values {sorted(uniq)[:5]}")
    if len(uniq) < 2:
        raise InvalidComparisonInput(
            "labels contain a single class; ranking metrics such as roc_auc are undefined. "
            "Compare on a reference set with both churners and non-churners."
        )
    return arr.astype(np.int64)


def _check_lengths(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    if not (y.shape[0] == a.shape[0] == b.shape[0]):
        raise InvalidComparisonInput(
            f"labels ({y.shape[0]}), champion scores ({a.shape[0]}) and challenger scores "
            f"({b.shape[0]}) must have the same length (one per reference row, same order)"
        )


__all__ = [
    "GREATER_IS_BETTER",
    "BootstrapSettings",
    "ComparisonRule",
    "ConfidenceInterval",
    "Decision",
    "MetricName",
    "compare",
    "compute_metrics",
]
