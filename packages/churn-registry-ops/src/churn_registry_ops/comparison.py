"""Champion/challenger decision: a pure function of two score arrays, the labels and a rule.

No MLflow, no I/O: scores are churn probabilities, metrics are scikit-learn's. The rule can be
converted to MLflow's `MetricThreshold` for logging or for `mlflow.validate_evaluation_results`,
which applies the same "at least X better" semantics to the primary metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import sklearn
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from churn_registry_ops.errors import InvalidComparisonInput

if TYPE_CHECKING:
    from mlflow.models import MetricThreshold

MetricName = Literal[
    "roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall", "accuracy"
]

#: Natural direction of each metric; a rule may restate it but never contradict it.
GREATER_IS_BETTER: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier": False,
    "f1": True,
    "precision": True,
    "recall": True,
    "accuracy": True,
}

#: Metrics computed on hard labels (probability >= threshold); the others use probabilities.
THRESHOLDED = frozenset({"f1", "precision", "recall", "accuracy"})

# Float slack so that e.g. 0.85 - 0.80 counts as an improvement of 0.05.
_EPS = 1e-12


def _hard(scores: npt.NDArray[np.float64], threshold: float) -> npt.NDArray[np.int64]:
    return (scores >= threshold).astype(np.int64)


_METRICS: dict[str, Callable[[npt.NDArray[np.int64], npt.NDArray[np.float64], float], float]] = {
    "roc_auc": lambda y, p, t: float(roc_auc_score(y, p)),
    "pr_auc": lambda y, p, t: float(average_precision_score(y, p)),
    "log_loss": lambda y, p, t: float(log_loss(y, p, labels=[0, 1])),
    "brier": lambda y, p, t: float(brier_score_loss(y, p)),
    "f1": lambda y, p, t: float(f1_score(y, _hard(p, t), zero_division=0)),
    "precision": lambda y, p, t: float(precision_score(y, _hard(p, t), zero_division=0)),
    "recall": lambda y, p, t: float(recall_score(y, _hard(p, t), zero_division=0)),
    "accuracy": lambda y, p, t: float(accuracy_score(y, _hard(p, t))),
}


class BootstrapSettings(BaseModel):
    """Paired bootstrap of the primary-metric difference (same resampled rows for both models)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_resamples: int = Field(1000, ge=50, le=100_000)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0


class ComparisonRule(BaseModel):
    """When a challenger replaces the champion. Defaults reproduce the seed: strictly better AUC.

    - `min_improvement`: how much better the primary metric must be, in `improvement` units:
      `absolute` (metric points) or `relative` (fraction of |champion value|, 0..1, as MLflow's
      `min_relative_change`). 0 means strictly better.
    - `guard_rails`: metric -> tolerance: the challenger may not be worse than the champion on that
      metric by more than the tolerance (absolute metric points).
    - `bootstrap`: when set, the lower bound of the paired bootstrap confidence interval of the
      improvement must also be > 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: MetricName = "roc_auc"
    greater_is_better: bool | None = None
    min_improvement: float = Field(0.0, ge=0.0)
    improvement: Literal["absolute", "relative"] = "absolute"
    guard_rails: dict[MetricName, Annotated[float, Field(ge=0.0)]] = Field(default_factory=dict)
    bootstrap: BootstrapSettings | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ComparisonRule:
        natural = GREATER_IS_BETTER[self.metric]
        if self.greater_is_better is not None and self.greater_is_better != natural:
            raise ValueError(
                f"greater_is_better={self.greater_is_better} contradicts {self.metric}, for which "
                f"{'higher' if natural else 'lower'} is better; drop greater_is_better "
                "(it is derived from the metric)"
            )
        if self.improvement == "relative" and self.min_improvement > 1.0:
            raise ValueError(
                "a relative min_improvement is a fraction of the champion's value: use 0..1 "
                "(0.01 = 1 %)"
            )
        if self.metric in self.guard_rails:
            raise ValueError(f"{self.metric} is the primary metric; it cannot also be a guard rail")
        return self

    @property
    def higher_is_better(self) -> bool:
        return GREATER_IS_BETTER[self.metric]

    def to_metric_thresholds(self) -> dict[str, MetricThreshold]:
        """The primary-metric part of the rule as MLflow `MetricThreshold`s.

        MLflow thresholds need a positive change, so "strictly better" (0) becomes MLflow's own
        fallback epsilon (1e-10). Guard rails allow a *worse* value and are not expressible there.
        """
        from mlflow.models import MetricThreshold

        change = self.min_improvement if self.min_improvement > 0 else None
        if self.improvement == "relative" and change is not None:
            threshold = MetricThreshold(
                min_relative_change=float(change), greater_is_better=self.higher_is_better
            )
        else:
            threshold = MetricThreshold(
                min_absolute_change=float(change) if change is not None else 1e-10,
                greater_is_better=self.higher_is_better,
            )
        return {self.metric: threshold}

    def to_mlflow_params(self) -> dict[str, str]:
        """Flat params for the deployment run."""
        params = {
            "rule.metric": self.metric,
            "rule.greater_is_better": str(self.higher_is_better),
            "rule.min_improvement": str(self.min_improvement),
            "rule.improvement": self.improvement,
            "rule.bootstrap": "off" if self.bootstrap is None else self.bootstrap.model_dump_json(),
        }
        for name, tolerance in sorted(self.guard_rails.items()):
            params[f"rule.guard_rail.{name}"] = str(tolerance)
        return params


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
        return {name: fn(y, p, threshold) for name, fn in _METRICS.items()}


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
        champion_metrics = {n: f(y, champ, champion_threshold) for n, f in _METRICS.items()}
        challenger_metrics = {n: f(y, chall, challenger_threshold) for n, f in _METRICS.items()}

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
    fn = _METRICS[rule.metric]
    rng = np.random.default_rng(settings.seed)
    n = y.shape[0]
    diffs: list[float] = []
    with _fast_sklearn():
        for _ in range(settings.n_resamples):
            idx = rng.integers(0, n, n)
            yy = y[idx]
            if yy.min() == yy.max():  # one class only: the metric is undefined on this resample
                continue
            d = fn(yy, chall[idx], challenger_threshold) - fn(yy, champ[idx], champion_threshold)
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
