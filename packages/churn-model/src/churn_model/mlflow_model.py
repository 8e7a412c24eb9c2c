"""Log a churn pipeline to MLflow as a pyfunc model, and load it back.

mlflow is imported inside the functions: ``import churn_model.mlflow_model`` stays cheap.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from churn_model.config import ModelConfig
from churn_model.errors import FeatureSpecError, ModelLoadError
from churn_model.feature_spec import FeatureSpec
from churn_model.loaded import (
    CONFIG_FILE,
    FEATURE_SPEC_FILE,
    PIPELINE_FILE,
    LoadedChurnModel,
)

if TYPE_CHECKING:
    from mlflow.models import ModelSignature
    from mlflow.models.model import ModelInfo

# The runtime dependencies whose versions must match between training and loading
# (skops files are tied to the scikit-learn/numpy that wrote them).
_PINNED_RUNTIME_DEPS = ("scikit-learn", "skops", "numpy", "pandas", "pydantic", "pyyaml")
_ENTRY_FILE = Path(__file__).with_name("pyfunc_entry.py")


def pip_requirements(wheel: str | None = None) -> list[str]:
    """This package and its real runtime dependencies, pinned to the installed versions.

    ``wheel``: the path of the churn-model wheel the model ships, relative to the model directory
    (``log_model`` passes it); without it, ``churn-model==<version>``, which only an index that
    holds our releases can satisfy.
    """
    requirements = [wheel or f"churn-model=={version('churn-model')}"]
    for name in _PINNED_RUNTIME_DEPS:
        try:
            requirements.append(f"{name}=={version(name)}")
        except PackageNotFoundError:  # pragma: no cover - all are dependencies of churn-model
            requirements.append(name)
    return requirements


def model_signature(
    config: ModelConfig, input_example: pd.DataFrame | None = None
) -> ModelSignature:
    """Inputs: the config's feature columns (categorical -> string; numeric -> long when the
    example column is integer, else double); output: the probability; param ``output``."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, ParamSchema, ParamSpec, Schema, TensorSpec

    columns: list[ColSpec | TensorSpec] = []
    for name in config.features.numeric:
        integer = (
            input_example is not None
            and name in input_example.columns
            and pd.api.types.is_integer_dtype(input_example[name].dtype)
            and not pd.api.types.is_bool_dtype(input_example[name].dtype)
        )
        columns.append(ColSpec(DataType.long if integer else DataType.double, name))
    columns.extend(ColSpec(DataType.string, name) for name in config.features.categorical)
    return ModelSignature(
        inputs=Schema(columns),
        outputs=Schema([ColSpec(DataType.double)]),
        params=ParamSchema([ParamSpec("output", DataType.string, "probability")]),
    )


def log_model(
    pipeline: Any,
    config: ModelConfig,
    *,
    name: str = "model",
    feature_spec: FeatureSpec | None = None,
    input_example: pd.DataFrame | None = None,
    registered_model_name: str | None = None,
) -> ModelInfo:
    """Log a fitted churn pipeline as an MLflow pyfunc model (in the active run, if any).

    Artifacts: ``pipeline.skops`` (skops, explicit trusted types), ``model_config.yaml``, the
    running churn-model packed as a wheel (required by relative path, so Model Serving installs
    the code that wrote the model: ``shipped_wheel``) and, when given, ``feature_spec.json``.
    Pass a few training rows as ``input_example``: they become
    the example and type integer columns as ``long`` in the signature.
    """
    import mlflow

    from churn_model import __version__
    from churn_model.serialization import dump_pipeline
    from churn_model.shipped_wheel import WHEEL_KEY, pack_installed_wheel

    columns = config.features.columns
    if feature_spec is not None:
        absent = [c for c in columns if c not in feature_spec.feature_names]
        if absent:
            raise FeatureSpecError(
                f"the feature spec does not look up {absent}, which the model consumes; "
                "fix: build it with FeatureSpec.for_table(table, config.features.columns)"
            )
    example = None
    if input_example is not None:
        from churn_model.feature_frame import require_columns

        require_columns(input_example, columns, what="input_example")
        example = input_example[columns].head(5).reset_index(drop=True)

    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        staging = Path(tmp)
        artifacts = {
            "pipeline": str(dump_pipeline(pipeline, staging / PIPELINE_FILE)),
            "model_config": str(staging / CONFIG_FILE),
        }
        (staging / CONFIG_FILE).write_text(config.to_yaml(), encoding="utf-8")
        wheel = pack_installed_wheel(staging)
        artifacts[WHEEL_KEY] = str(wheel)
        if feature_spec is not None:
            artifacts["feature_spec"] = str(feature_spec.save(staging / FEATURE_SPEC_FILE))
        with _no_bytecode_caches():
            return mlflow.pyfunc.log_model(
                name=name,
                python_model=str(_ENTRY_FILE),
                artifacts=artifacts,
                signature=model_signature(config, input_example),
                input_example=example,
                pip_requirements=pip_requirements(f"artifacts/{wheel.name}"),
                registered_model_name=registered_model_name,
                **_no_uv_project(mlflow.pyfunc.log_model, staging),
                metadata={
                    "churn_model_version": __version__,
                    "estimator_kind": config.estimator.kind,
                    "threshold": config.threshold,
                    "numeric_features": list(config.features.numeric),
                    "categorical_features": list(config.features.categorical),
                    "interactions": list(config.features.interactions),
                    "output": "churn probability (float64); params={'output': 'label'} for 0/1",
                },
            )


@contextmanager
def _no_bytecode_caches() -> Iterator[None]:
    """MLflow imports the model's code file (``pyfunc_entry.py``) from the folder it is about to
    log, to check the input example; Python would write ``__pycache__`` into that folder, and
    the logged model would carry a bytecode file that ``verify_model_dir`` refuses (bytecode can
    stand in for its source). Python writes none while this is on; the caller's setting is put
    back after."""
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = previous


def _no_uv_project(log: Any, staging: Path) -> dict[str, str]:
    """Keep MLflow from exporting the caller's uv lock into the model.

    MLflow >= 3.11 detects a uv project in the working directory and copies its whole lock into
    the model; ``uv_project_path`` (also new in 3.11) pointed at the staging dir, which has none,
    turns that off. Older MLflow (Databricks Runtime 18 LTS ML ships 3.8.1) neither detects uv
    nor accepts the argument.
    """
    import inspect

    if "uv_project_path" in inspect.signature(log).parameters:
        return {"uv_project_path": str(staging)}
    return {}


def download_model(model_uri: str, dst: str | Path) -> Path:
    """Download a logged churn model into ``dst``; returns its ``artifacts/`` directory. The one
    download routine (``load_model``, churn-scoring, churn-serving, the registry jobs use it):
    the directory is checked to be exactly what ``log_model`` writes (``verify.verify_model_dir``,
    files read only) before anything in it is loaded; ``UntrustedModelError`` otherwise."""
    from churn_model.verify import verify_model_dir

    root = Path(_download(model_uri, str(dst)))
    artifacts = root / "artifacts"
    if not (artifacts / PIPELINE_FILE).is_file():
        raise ModelLoadError(
            f"{model_uri} is not a churn model (no artifacts/{PIPELINE_FILE})",
            "point at a model logged with churn_model.log_model",
        )
    verify_model_dir(root)
    return artifacts


def load_model(model_uri: str) -> LoadedChurnModel:
    """The fitted sklearn pipeline, config, threshold and feature spec of a logged churn model
    (``models:/name/1``, ``models:/name@champion``, ``runs:/<id>/model``...): verified to be
    churn-model's own format, then loaded through skops with the trusted-type list (never
    through pyfunc): fast batch scoring without pyfunc overhead."""
    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        return LoadedChurnModel.from_artifacts_dir(download_model(model_uri, tmp))


def load_pipeline(model_uri: str) -> LoadedChurnModel:
    """Deprecated alias of ``load_model`` (it never returned only the pipeline)."""
    warnings.warn(
        "churn_model.load_pipeline is deprecated: use churn_model.load_model, which returns "
        "the same LoadedChurnModel",
        DeprecationWarning,
        stacklevel=2,
    )
    return load_model(model_uri)


def load_feature_spec(model_uri: str) -> FeatureSpec:
    """Only the feature spec of a logged churn model (usually downloads one small file)."""
    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        try:
            local = Path(_download(f"{model_uri.rstrip('/')}/artifacts/{FEATURE_SPEC_FILE}", tmp))
        except ModelLoadError:
            # ``models:/<model_id>`` URIs take no sub-path: fetch the model dir instead.
            local = Path(_download(model_uri, tmp)) / "artifacts" / FEATURE_SPEC_FILE
        if not local.is_file():
            raise FeatureSpecError(
                f"{model_uri} has no {FEATURE_SPEC_FILE}: it was logged without a feature spec; "
                "fix: log it with log_model(..., feature_spec=...)"
            )
        return FeatureSpec.load(local)


def _download(uri: str, dst: str) -> str:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst))
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise ModelLoadError(
            f"cannot load {uri}: {message}",
            "check the registered model name and version or alias, and that the "
            "tracking/registry URI points at the right store",
        ) from None
