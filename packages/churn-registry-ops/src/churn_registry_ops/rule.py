"""`ComparisonRule`: when a challenger replaces the champion (pydantic only, no scikit-learn).

Kept apart from `comparison` so that job parameters can be typed with it (`model-deployment`'s
`rule`) without importing scikit-learn; `from churn_registry_ops import ComparisonRule` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


__all__ = ["GREATER_IS_BETTER", "BootstrapSettings", "ComparisonRule", "MetricName"]
