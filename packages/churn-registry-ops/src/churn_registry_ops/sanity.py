"""Sanity checks on a logged model before it may become challenger.

Nothing from the version runs: its files are first checked to be exactly what churn-model writes
(`churn_model.verify`: flavor, the shipped `pyfunc_entry.py` by content hash, the three
artifacts, no pickle or other file), then the pipeline is loaded through skops with churn-model's
trusted types and scored directly, never through `mlflow.pyfunc.load_model`.

Each check is recorded (name, passed, detail, reason code) so a failure says exactly what is
wrong: foreign files or code, missing or mistyped signature columns, NaN, out-of-range or constant
predictions, no skill on labelled rows (ROC AUC under the floor), non-determinism, unsatisfiable
requirements. Nothing here touches the registry: `validation.validate_version` tags the outcome.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from packaging.requirements import InvalidRequirement, Requirement

from churn_model.feature_types import mlflow_type
from churn_registry_ops.errors import InvalidSample
from churn_registry_ops.report import CheckResult, SanityReport

# Distributions that provide another's import name (MLflow logs "mlflow" even from mlflow-skinny).
_PROVIDED_BY = {"mlflow": ("mlflow", "mlflow-skinny")}

#: Default ROC AUC floor on the labelled sample: a model must rank churners above chance.
DEFAULT_MIN_ROC_AUC = 0.6

# reason codes of the prediction checks (the format checks' codes come from churn_model.verify)
LOAD_FAILED = "load_failed"
PREDICT_FAILED = "predict_failed"
NOT_ONE_VALUE_PER_ROW = "not_one_value_per_row"
NON_FINITE = "non_finite_predictions"
OUT_OF_RANGE = "out_of_range_predictions"
CONSTANT = "constant_predictions"
AUC_BELOW_FLOOR = "auc_below_floor"
NON_DETERMINISTIC = "non_deterministic"
SIGNATURE_MISMATCH = "signature_mismatch"
UNSATISFIED_REQUIREMENTS = "unsatisfied_requirements"

Predict = Callable[[pd.DataFrame], Any]


def check_model_version(
    model_uri: str,
    expected_features: Mapping[str, str],
    sample: pd.DataFrame,
    *,
    labels: npt.ArrayLike | None = None,
    min_roc_auc: float = DEFAULT_MIN_ROC_AUC,
    check_requirements: bool = True,
) -> SanityReport:
    """Verify the version at `model_uri` is churn-model's format, load it safely, check it.

    `expected_features` is the feature contract {column: type} the input signature must equal
    (Spark, pandas or MLflow type names: `churn_model.feature_types`). `sample` holds real
    feature rows; with `labels` (0/1, one per sample row) the ROC AUC on them must reach
    `min_roc_auc`. Requirements are checked against the current environment with `packaging`
    (no virtualenv is built).
    """
    import mlflow

    from churn_model.errors import ChurnModelError, UntrustedModelError
    from churn_model.loaded import LoadedChurnModel
    from churn_model.verify import read_input_schema, verify_model_dir

    expected = {name: mlflow_type(t) for name, t in expected_features.items()}
    rows = _sample_rows(sample, expected)
    y = _sample_labels(labels, len(rows))
    checks: list[CheckResult] = []

    with tempfile.TemporaryDirectory(prefix="churn-sanity-") as tmp:
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        except Exception as exc:  # any failure to fetch is the finding itself
            checks.append(_fail("loads", _one_line(exc), LOAD_FAILED))
            return SanityReport(model_uri=model_uri, checks=checks)
        try:
            verify_model_dir(local)
        except UntrustedModelError as exc:
            checks.append(_fail("trusted_format", str(exc), exc.reason))
            return SanityReport(model_uri=model_uri, checks=checks)
        checks.append(
            CheckResult(
                name="trusted_format",
                passed=True,
                detail="MLmodel, pyfunc_entry.py (SHA-256) and artifacts are churn-model's own",
            )
        )
        try:
            model = LoadedChurnModel.from_artifacts_dir(local / "artifacts")
        except UntrustedModelError as exc:
            checks.append(_fail("loads", str(exc), exc.reason))
            return SanityReport(model_uri=model_uri, checks=checks)
        except (ChurnModelError, OSError, ValueError) as exc:
            checks.append(_fail("loads", _one_line(exc), LOAD_FAILED))
            return SanityReport(model_uri=model_uri, checks=checks)
        checks.append(
            CheckResult(name="loads", passed=True, detail="pipeline loaded through skops")
        )
        if check_requirements:
            checks.append(_check_requirements(local / "requirements.txt"))
        checks.append(_check_signature(read_input_schema(local), expected))

    checks.extend(_check_predictions(model.predict_proba, rows, y, min_roc_auc))
    return SanityReport(model_uri=model_uri, checks=checks)


def _fail(name: str, detail: str, reason: str) -> CheckResult:
    return CheckResult(name=name, passed=False, detail=detail, reason=reason)


def _sample_labels(labels: npt.ArrayLike | None, n: int) -> np.ndarray | None:
    if labels is None:
        return None
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != n:
        raise InvalidSample(
            f"the sanity-check labels must be one 0/1 value per sample row ({n}), got shape "
            f"{y.shape}"
        )
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise InvalidSample(f"the sanity-check labels must be 0/1, found {sorted(values)[:5]}")
    if len(values) < 2:
        raise InvalidSample(
            "the labelled sanity-check sample holds a single class, so ROC AUC is undefined: "
            "sample more rows (both churners and non-churners)"
        )
    return y.astype(np.int64)


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


def _check_signature(schema: Any, expected: Mapping[str, str]) -> CheckResult:
    if schema is None:
        return _fail(
            "signature", "model has no input signature; log it with one", SIGNATURE_MISMATCH
        )
    if schema.is_tensor_spec():
        return _fail(
            "signature",
            "input signature is tensor-based; expected named columns",
            SIGNATURE_MISMATCH,
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
        return _fail("signature", "; ".join(problems), SIGNATURE_MISMATCH)
    return CheckResult(
        name="signature",
        passed=True,
        detail=f"input signature equals the {len(expected)}-column feature contract",
    )


def _predict(predict: Predict, rows: pd.DataFrame) -> np.ndarray:
    out = predict(rows.copy())
    if isinstance(out, pd.DataFrame):
        return out.to_numpy()
    return np.asarray(out)


def _check_predictions(
    predict: Predict,
    rows: pd.DataFrame,
    labels: np.ndarray | None = None,
    min_roc_auc: float = DEFAULT_MIN_ROC_AUC,
) -> list[CheckResult]:
    """Checks of `predict` (rows -> churn probabilities) on the sample rows (and labels)."""
    n = len(rows)
    try:
        first = _predict(predict, rows)
    except Exception as exc:
        return [_fail("predict", _one_line(exc), PREDICT_FAILED)]
    checks = [CheckResult(name="predict", passed=True, detail=f"predicted {n} sample rows")]

    shape_ok = first.ndim == 1 and first.shape[0] == n
    checks.append(
        CheckResult(
            name="one_value_per_row",
            passed=shape_ok,
            detail=f"output shape {first.shape} for {n} rows"
            + ("" if shape_ok else "; expected 1-d, one churn probability per row"),
            reason=None if shape_ok else NOT_ONE_VALUE_PER_ROW,
        )
    )
    try:
        values = first.astype(np.float64).ravel()
    except (TypeError, ValueError):
        checks.append(_fail("finite", f"output is not numeric (dtype {first.dtype})", NON_FINITE))
        return checks

    non_finite = int((~np.isfinite(values)).sum())
    checks.append(
        CheckResult(
            name="finite",
            passed=non_finite == 0,
            detail="all predictions finite"
            if non_finite == 0
            else f"{non_finite} of {values.size} predictions are NaN or infinite",
            reason=None if non_finite == 0 else NON_FINITE,
        )
    )
    finite = values[np.isfinite(values)]
    outside = int(((finite < 0) | (finite > 1)).sum())
    span = f"range [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else "no finite values"
    range_ok = outside == 0 and finite.size > 0
    checks.append(
        CheckResult(
            name="probability_range",
            passed=range_ok,
            detail=f"all predictions in [0, 1] ({span})"
            if outside == 0
            else f"{outside} predictions outside [0, 1] ({span}); expected probabilities",
            reason=None if range_ok else OUT_OF_RANGE,
        )
    )
    distinct = int(np.unique(finite).size)
    checks.append(
        CheckResult(
            name="not_constant",
            passed=distinct > 1,
            detail=f"{distinct} distinct predictions on {n} rows"
            if distinct > 1
            else f"every prediction is {span}: a constant model has no skill",
            reason=None if distinct > 1 else CONSTANT,
        )
    )
    if labels is not None and shape_ok and non_finite == 0 and range_ok:
        from churn_model.evaluation import score

        auc = score("roc_auc", labels, values)
        ok = auc >= min_roc_auc
        checks.append(
            CheckResult(
                name="roc_auc",
                passed=ok,
                detail=f"ROC AUC {auc:.4f} on {n} labelled rows "
                + (f"(floor {min_roc_auc})" if ok else f"is below the floor {min_roc_auc}"),
                reason=None if ok else AUC_BELOW_FLOOR,
            )
        )

    try:
        second = _predict(predict, rows)
        same = first.shape == second.shape and np.array_equal(first, second, equal_nan=True)
        detail = (
            "two predictions on the same rows are equal"
            if same
            else ("two predictions on the same rows differ; the model is not deterministic")
        )
    except Exception as exc:
        same, detail = False, f"second prediction raised: {_one_line(exc)}"
    checks.append(
        CheckResult(
            name="deterministic",
            passed=same,
            detail=detail,
            reason=None if same else NON_DETERMINISTIC,
        )
    )
    return checks


def _check_requirements(path: Path) -> CheckResult:
    if not path.exists():
        return _fail(
            "requirements",
            "model has no requirements.txt; log it with explicit pip requirements",
            UNSATISFIED_REQUIREMENTS,
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
        return _fail(
            "requirements",
            "unsatisfied in this environment: " + ", ".join(problems),
            UNSATISFIED_REQUIREMENTS,
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
