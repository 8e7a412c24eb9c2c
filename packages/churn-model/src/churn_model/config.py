"""The model configuration: estimator (chosen by ``kind``), features, threshold, split, tuning.

Validated once with pydantic; unknown keys are errors. ``load_model_config`` reads YAML and turns
any problem into one ``ModelConfigError`` naming the file, the field, the problem and the fix.
"""

from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES
from churn_model.errors import ModelConfigError
from churn_model.interactions import INTERACTIONS, InteractionName


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RandomForestConfig(_Strict):
    """sklearn ``RandomForestClassifier``; the seed's baseline."""

    kind: Literal["random_forest"]
    n_estimators: int = Field(200, ge=1)
    max_depth: int | None = Field(None, ge=1)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: Literal["sqrt", "log2"] | int | float | None = "sqrt"
    random_state: int | None = 42
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    #: threads for fitting (-1: every core); the fitted model predicts in one thread (see
    #: ``training.train``), since Spark and the serving service parallelize scoring themselves
    n_jobs: int | None = None

    @field_validator("max_features", mode="before")
    @classmethod
    def _no_auto(cls, value: Any) -> Any:
        if value == "auto":
            raise ValueError(
                "'auto' was removed from scikit-learn (1.3); for classifiers it meant 'sqrt', "
                "so write max_features: sqrt"
            )
        return value

    @field_validator("max_features")
    @classmethod
    def _max_features_range(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be 'sqrt', 'log2', an int >= 1, a float in (0, 1] or null")
        if isinstance(value, int) and value < 1:
            raise ValueError("an integer max_features must be >= 1 (a number of columns)")
        if isinstance(value, float) and not 0.0 < value <= 1.0:
            raise ValueError("a float max_features must be in (0, 1] (a fraction of columns)")
        return value


class LogisticRegressionConfig(_Strict):
    """sklearn ``LogisticRegression`` on scaled numeric and one-hot categorical columns."""

    kind: Literal["logistic_regression"]
    C: float = Field(1.0, gt=0)
    penalty: Literal["l2", "l1", "elasticnet"] = "l2"
    l1_ratio: float | None = Field(None, ge=0.0, le=1.0)
    class_weight: Literal["balanced"] | None = None
    max_iter: int = Field(2000, ge=1)
    tol: float = Field(1e-4, gt=0)
    random_state: int | None = 42

    @model_validator(mode="after")
    def _l1_ratio_only_for_elasticnet(self) -> LogisticRegressionConfig:
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("penalty 'elasticnet' needs l1_ratio (a float in [0, 1])")
        if self.penalty != "elasticnet" and self.l1_ratio is not None:
            raise ValueError("l1_ratio is only used with penalty: elasticnet; remove it")
        return self


class HistGradientBoostingConfig(_Strict):
    """sklearn ``HistGradientBoostingClassifier``; defaults are conservatively regularised
    (small learning rate, shallow trees, large leaves, L2) because this data set is small."""

    kind: Literal["hist_gradient_boosting"]
    learning_rate: float = Field(0.03, gt=0, le=1)
    max_iter: int = Field(300, ge=1)
    max_depth: int | None = Field(3, ge=1)
    max_leaf_nodes: int | None = Field(15, ge=2)
    min_samples_leaf: int = Field(50, ge=1)
    l2_regularization: float = Field(1.0, ge=0)
    early_stopping: bool = False
    class_weight: Literal["balanced"] | None = None
    random_state: int | None = 42


EstimatorConfig = Annotated[
    RandomForestConfig | LogisticRegressionConfig | HistGradientBoostingConfig,
    Field(discriminator="kind"),
]


class FeaturesConfig(_Strict):
    """The contract columns the model consumes, plus optional model-side interactions."""

    numeric: list[str] = Field(default_factory=lambda: list(DEFAULT_NUMERIC_FEATURES))
    categorical: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORICAL_FEATURES))
    interactions: list[InteractionName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> FeaturesConfig:
        columns = [*self.numeric, *self.categorical]
        if not columns:
            raise ValueError("no features: list at least one numeric or categorical column")
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise ValueError(f"columns listed twice (numeric and/or categorical): {duplicates}")
        if len(set(self.interactions)) != len(self.interactions):
            raise ValueError("an interaction is listed twice")
        for name in self.interactions:
            missing = [c for c in INTERACTIONS[name].inputs if c not in columns]
            if missing:
                raise ValueError(
                    f"interaction {name!r} needs input column(s) {missing}; "
                    "add them to numeric/categorical or drop the interaction"
                )
        return self

    @property
    def columns(self) -> list[str]:
        """The input columns of the model, in order: numeric then categorical."""
        return [*self.numeric, *self.categorical]


class SplitConfig(_Strict):
    """Train/test split: stratified and seeded by default (the seed's 25% hold-out, seed 42)."""

    test_size: float = Field(0.25, gt=0, lt=1)
    seed: int = 42
    stratify: bool = True


GridValue = bool | int | float | str | None


class TuningConfig(_Strict):
    """Cross-validated grid search over estimator fields, on the TRAINING rows only."""

    grid: dict[str, list[GridValue]] = Field(min_length=1)
    cv_folds: int = Field(5, ge=2)
    scoring: Literal["neg_log_loss", "roc_auc", "average_precision"] = "neg_log_loss"
    seed: int = 0

    @field_validator("grid")
    @classmethod
    def _non_empty_lists(cls, grid: dict[str, list[GridValue]]) -> dict[str, list[GridValue]]:
        empty = [key for key, values in grid.items() if not values]
        if empty:
            raise ValueError(f"grid entries need at least one value: {empty}")
        return grid


@dataclass(frozen=True)
class TuningCandidate:
    """One point of the tuning grid: the grid values and the estimator config they give."""

    params: dict[str, GridValue]
    estimator: RandomForestConfig | LogisticRegressionConfig | HistGradientBoostingConfig


class ModelConfig(_Strict):
    """Everything that defines a churn model; logged with the model as model_config.yaml."""

    estimator: EstimatorConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    threshold: float = Field(0.5, gt=0, lt=1)
    split: SplitConfig = Field(default_factory=SplitConfig)
    tuning: TuningConfig | None = None

    # The tuning grid's candidates, validated once here and reused by training.
    _candidates: tuple[TuningCandidate, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _tuning_grid_matches_estimator(self) -> ModelConfig:
        if self.tuning is None:
            return self
        estimator_type = type(self.estimator)
        allowed = sorted(set(estimator_type.model_fields) - {"kind"})
        unknown = sorted(set(self.tuning.grid) - set(allowed))
        if unknown:
            raise ValueError(
                f"tuning.grid keys {unknown} are not fields of estimator kind "
                f"{self.estimator.kind!r}; use some of {allowed}"
            )
        base = self.estimator.model_dump()
        keys = list(self.tuning.grid)
        candidates = []
        for combination in itertools.product(*(self.tuning.grid[k] for k in keys)):
            params = dict(zip(keys, combination, strict=True))
            try:
                estimator = estimator_type.model_validate({**base, **params})
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                raise ValueError(f"tuning.grid candidate {params} is invalid: {problem}") from None
            candidates.append(TuningCandidate(params, estimator))
        self._candidates = tuple(candidates)
        return self

    @property
    def tuning_candidates(self) -> tuple[TuningCandidate, ...]:
        """Every combination of the tuning grid over this estimator, already validated
        (empty without tuning)."""
        return self._candidates

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_model_config(path: str | Path) -> ModelConfig:
    """Read and validate a YAML model config; every problem is a ``ModelConfigError``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelConfigError(
            f"model config {path} does not exist; fix: pass the path of a YAML model config "
            "(see packages/churn-model/configs/ for examples)"
        ) from None
    except OSError as exc:
        raise ModelConfigError(f"model config {path} cannot be read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModelConfigError(f"model config {path} is not valid YAML: {exc}") from None
    return model_config_from_mapping(data, source=str(path))


def model_config_from_mapping(data: Any, *, source: str = "model config") -> ModelConfig:
    """Validate an already-parsed mapping (e.g. task params from JSON) into a ``ModelConfig``."""
    if not isinstance(data, Mapping):
        raise ModelConfigError(
            f"{source}: expected a mapping with at least an `estimator:` section, "
            f"got {type(data).__name__}"
        )
    try:
        return ModelConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ModelConfigError(_describe(exc, source)) from None


def _describe(exc: ValidationError, source: str) -> str:
    problems = [_describe_one(error) for error in exc.errors()]
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{source}: {len(problems)} {noun} in the model config:\n" + "\n".join(
        f"  - {p}" for p in problems
    )


def _describe_one(error: Any) -> str:
    loc = tuple(error["loc"])
    field = ".".join(str(part) for part in _display_loc(loc)) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"`{field}`: unknown key{hint}. Fix: remove or rename it"
    if kind == "missing":
        return f"`{field}`: required but missing. Fix: add it"
    if kind == "union_tag_invalid":
        tags = ", ".join(_estimator_kinds())
        return (
            f"`{field}.kind`: unknown estimator kind {error['input'].get('kind')!r}. "
            f"Fix: use one of {tags}"
        )
    if kind == "union_tag_not_found":
        return f"`{field}.kind`: missing. Fix: set kind to one of {', '.join(_estimator_kinds())}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"`{field}`: {message} (got {error.get('input')!r})"


def _display_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic puts the discriminator tag in the location ("estimator", "random_forest", "x");
    # users wrote "estimator.x".
    if len(loc) >= 2 and loc[0] == "estimator" and loc[1] in _estimator_kinds():
        return (loc[0], *loc[2:])
    return loc


def _estimator_kinds() -> list[str]:
    return [typing.get_args(cls.model_fields["kind"].annotation)[0] for cls in _estimator_types()]


def _estimator_types() -> list[type[BaseModel]]:
    return [RandomForestConfig, LogisticRegressionConfig, HistGradientBoostingConfig]


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Fields of the (sub)model at ``loc``, to list them next to an unknown key."""
    model: type[BaseModel] | None = ModelConfig
    for part in loc:
        if model is None:
            return []
        if part in model.model_fields:
            model = _model_in(model.model_fields[part].annotation)
        elif model is ModelConfig:
            return []
        else:
            model = next(
                (
                    cls
                    for cls in _estimator_types()
                    if typing.get_args(cls.model_fields["kind"].annotation)[0] == part
                ),
                None,
            )
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
