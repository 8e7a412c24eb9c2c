"""Churn classifier: scikit-learn pipeline, training, evaluation and an MLflow pyfunc model.

No pyspark, no JVM. ``import churn_model`` is cheap: the public names below are resolved on first
use (PEP 562), so scikit-learn is imported only when a pipeline is built and mlflow only when a
model is logged or loaded.
"""

from importlib import import_module
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

__version__ = _version("churn-model")

_EXPORTS = {
    "ModelConfig": "churn_model.config",
    "load_model_config": "churn_model.config",
    "model_config_from_mapping": "churn_model.config",
    "build_pipeline": "churn_model.pipeline",
    "Metrics": "churn_model.evaluation",
    "evaluate": "churn_model.evaluation",
    "TrainResult": "churn_model.training",
    "split": "churn_model.training",
    "train": "churn_model.training",
    "FeatureSpec": "churn_model.feature_spec",
    "LoadedChurnModel": "churn_model.loaded",
    "log_model": "churn_model.mlflow_model",
    "load_model": "churn_model.mlflow_model",
    "download_model": "churn_model.mlflow_model",
    "load_pipeline": "churn_model.mlflow_model",  # deprecated alias of load_model
    "load_feature_spec": "churn_model.mlflow_model",
}

__all__ = [
    "FeatureSpec",
    "LoadedChurnModel",
    "Metrics",
    "ModelConfig",
    "TrainResult",
    "__version__",
    "build_pipeline",
    "download_model",
    "evaluate",
    "load_feature_spec",
    "load_model",
    "load_model_config",
    "load_pipeline",
    "log_model",
    "model_config_from_mapping",
    "split",
    "train",
]

if TYPE_CHECKING:
    from churn_model.config import ModelConfig, load_model_config, model_config_from_mapping
    from churn_model.evaluation import Metrics, evaluate
    from churn_model.feature_spec import FeatureSpec
    from churn_model.loaded import LoadedChurnModel
    from churn_model.mlflow_model import (
        download_model,
        load_feature_spec,
        load_model,
        load_pipeline,
        log_model,
    )
    from churn_model.pipeline import build_pipeline
    from churn_model.training import TrainResult, split, train


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'churn_model' has no attribute {name!r}")
    return getattr(import_module(module), name)
