"""Sanity checks on a logged model before it may become challenger.

Each check is recorded (name, passed, detail) so a failure says exactly what is wrong: missing or
mistyped signature columns, NaN or out-of-range predictions, non-determinism, unsatisfiable
requirements. Nothing here touches the registry: `validation.validate_version` tags the outcome.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from packaging.requirements import InvalidRequirement, Requirement
from pydantic import BaseModel, ConfigDict, computed_field

from churn_registry_ops.errors import InvalidSample

# Accepted spellings of a column type in the expected contract -> MLflow DataType name.
# MLflow names win ("float" is MLflow's 32-bit float); numpy/pandas spellings are accepted too.
_TYPE_ALIASES = {
    "long": "long",
    "int64": "long",
    "int": "long",
    "integer": "integer",
    "int32": "integer",
    "double": "double",
    "float64": "double",
    "float": "float",
    "float32": "float",
    "string": "string",
    "str": "string",
    "object": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "binary": "binary",
    "bytes": "binary",
    "datetime": "datetime",
    "datetime64[ns]": "datetime",
}

# Distributions that provide another's import name (MLflow logs "mlflow" even from mlflow-skinny).
_PROVIDED_BY = {"mlflow": ("mlflow", "mlflow-skinny")}


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    passed: bool
    detail: str


class SanityReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_uri: str
    checks: list[CheckResult]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        if self.passed:
            return f"all {len(self.checks)} sanity checks passed"
        return "failed: " + "; ".join(f"{c.name}: {c.detail}" for c in self.failures)


def normalize_type(dtype: object) -> str:
    """MLflow DataType name for a contract type given as MLflow or numpy/pandas spelling."""
    key = str(dtype).strip().lower()
    if key not in _TYPE_ALIASES:
        raise ValueError(
            f"unknown column type {dtype!r}; use an MLflow type name "
            "(long, integer, double, float, string, boolean)"
        )
    return _TYPE_ALIASES[key]


def check_model_version(
    model_uri: str,
    expected_features: Mapping[str, str],
    sample: pd.DataFrame,
    *,
    check_requirements: bool = True,
) -> SanityReport:
    """Load the model at `model_uri` and run every check on `sample` (real feature rows).

    `expected_features` is the feature contract {column: type} the input signature must equal
    (types as MLflow names: long, double, string...). Requirements are checked against the
    current environment with `packaging` (no virtualenv is built).
    """
    import mlflow
    from mlflow.pyfunc import load_model

    expected = {name: normalize_type(t) for name, t in expected_features.items()}
    rows = _sample_rows(sample, expected)
    checks: list[CheckResult] = []

    with tempfile.TemporaryDirectory(prefix="churn-sanity-") as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
            model = load_model(local)
        except Exception as exc:  # any failure to load is the finding itself
            checks.append(CheckResult(name="loads", passed=False, detail=_one_line(exc)))
            return SanityReport(model_uri=model_uri, checks=checks)
        checks.append(CheckResult(name="loads", passed=True, detail="pyfunc model loaded"))
        if check_requirements:
            checks.append(_check_requirements(Path(local) / "requirements.txt"))

    checks.append(_check_signature(model, expected))
    checks.extend(_check_predictions(model, rows))
    return SanityReport(model_uri=model_uri, checks=checks)


def _sample_rows(sample: pd.DataFrame, expected: Mapping[str, str]) -> pd.DataFrame:
    if len(sample) == 0:
        raise InvalidSample("the sanity-check sample is empty: pass a few real feature rows")
    missing = [c for c in expected if c not in sample.columns]
    if missing:
        raise InvalidSample(
            f"the sanity-check sample lacks contract columns {missing}: read the sample from the "
            "feature table the model is trained on"
        )
    return sample.loc[:, list(expected)].reset_index(drop=True)


def _check_signature(model: Any, expected: Mapping[str, str]) -> CheckResult:
    schema = model.metadata.get_input_schema()
    if schema is None:
        return CheckResult(
            name="signature", passed=False, detail="model has no input signature; log it with one"
        )
    if schema.is_tensor_spec():
        return CheckResult(
            name="signature",
            passed=False,
            detail="input signature is tensor-based; expected named columns",
        )
    actual: dict[str, str] = {}
    for spec in schema.inputs:
        kind = getattr(spec.type, "name", None) or str(spec.type)
        actual[str(spec.name)] = str(kind)
    missing = [c for c in expected if c not in actual]
    extra = [c for c in actual if c not in expected]
    mistyped = [
        f"{c} (expected {expected[c]}, got {actual[c]})"
        for c in expected
        if c in actual and actual[c] != expected[c]
    ]
    problems = []
    if missing:
        problems.append("missing columns: " + ", ".join(missing))
    if extra:
        problems.append("extra columns: " + ", ".join(extra))
    if mistyped:
        problems.append("mistyped columns: " + ", ".join(mistyped))
    if problems:
        return CheckResult(name="signature", passed=False, detail="; ".join(problems))
    return CheckResult(
        name="signature",
        passed=True,
        detail=f"input signature equals the {len(expected)}-column feature contract",
    )


def _predict(model: Any, rows: pd.DataFrame) -> np.ndarray:
    out = model.predict(rows.copy())
    if isinstance(out, pd.DataFrame):
        return out.to_numpy()
    return np.asarray(out)


def _check_predictions(model: Any, rows: pd.DataFrame) -> list[CheckResult]:
    n = len(rows)
    try:
        first = _predict(model, rows)
    except Exception as exc:
        return [CheckResult(name="predict", passed=False, detail=_one_line(exc))]
    checks = [CheckResult(name="predict", passed=True, detail=f"predicted {n} sample rows")]

    shape_ok = first.ndim == 1 and first.shape[0] == n
    checks.append(
        CheckResult(
            name="one_value_per_row",
            passed=shape_ok,
            detail=f"output shape {first.shape} for {n} rows"
            + ("" if shape_ok else "; expected 1-d, one churn probability per row"),
        )
    )
    try:
        values = first.astype(np.float64).ravel()
    except (TypeError, ValueError):
        checks.append(
            CheckResult(
                name="finite", passed=False, detail=f"output is not numeric (dtype {first.dtype})"
            )
        )
        return checks

    non_finite = int((~np.isfinite(values)).sum())
    checks.append(
        CheckResult(
            name="finite",
            passed=non_finite == 0,
            detail="all predictions finite"
            if non_finite == 0
            else f"{non_finite} of {values.size} predictions are NaN or infinite",
        )
    )
    finite = values[np.isfinite(values)]
    outside = int(((finite < 0) | (finite > 1)).sum())
    span = f"range [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
    checks.append(
        CheckResult(
            name="probability_range",
            passed=outside == 0 and finite.size > 0,
            detail=f"all predictions in [0, 1] ({span})"
            if outside == 0
            else f"{outside} predictions outside [0, 1] ({span}); expected probabilities",
        )
    )

    try:
        second = _predict(model, rows)
        same = first.shape == second.shape and np.array_equal(first, second, equal_nan=True)
        detail = (
            "two predictions on the same rows are equal"
            if same
            else ("two predictions on the same rows differ; the model is not deterministic")
        )
    except Exception as exc:
        same, detail = False, f"second prediction raised: {_one_line(exc)}"
    checks.append(CheckResult(name="deterministic", passed=same, detail=detail))
    return checks


def _check_requirements(path: Path) -> CheckResult:
    if not path.exists():
        return CheckResult(
            name="requirements",
            passed=False,
            detail="model has no requirements.txt; log it with explicit pip requirements",
        )
    problems: list[str] = []
    checked = 0
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue  # pip options (-r, -c, --index-url) are not requirements
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue  # a path or URL (e.g. a vendored wheel): nothing to compare against
        if req.marker is not None and not req.marker.evaluate():
            continue
        checked += 1
        installed = _installed_version(req.name)
        if installed is None:
            problems.append(f"{line} (not installed)")
        elif req.specifier and not req.specifier.contains(installed, prereleases=True):
            problems.append(f"{line} (installed {installed})")
    if problems:
        return CheckResult(
            name="requirements",
            passed=False,
            detail="unsatisfied in this environment: " + ", ".join(problems),
        )
    return CheckResult(
        name="requirements",
        passed=True,
        detail=f"{checked} declared requirements satisfied by the installed packages",
    )


def _installed_version(name: str) -> str | None:
    for dist in _PROVIDED_BY.get(name.lower(), (name,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"
