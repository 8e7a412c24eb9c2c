"""``LoadedChurnModel``: a fitted pipeline with its config, threshold and feature spec."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from churn_model.config import ModelConfig, load_model_config
from churn_model.feature_spec import FeatureSpec

PIPELINE_FILE = "pipeline.skops"
CONFIG_FILE = "model_config.yaml"
FEATURE_SPEC_FILE = "feature_spec.json"


@dataclass(frozen=True)
class LoadedChurnModel:
    """What scoring needs, without pyfunc overhead: ``predict_proba`` on a pandas frame."""

    pipeline: Any  # sklearn.pipeline.Pipeline (not imported here to keep imports light)
    config: ModelConfig
    feature_spec: FeatureSpec | None = None

    @property
    def threshold(self) -> float:
        return self.config.threshold

    @property
    def numeric_features(self) -> list[str]:
        return list(self.config.features.numeric)

    @property
    def categorical_features(self) -> list[str]:
        return list(self.config.features.categorical)

    @property
    def feature_names(self) -> list[str]:
        """The input columns the pipeline consumes."""
        return self.config.features.columns

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Churn probability per row: float64, 1-d, in [0, 1]."""
        from churn_model.evaluation import positive_proba

        return positive_proba(self.pipeline, features)

    def predict_label(self, features: pd.DataFrame) -> np.ndarray:
        """0/1 (int64) at the model's threshold."""
        return (self.predict_proba(features) >= self.threshold).astype(np.int64)

    @classmethod
    def from_files(
        cls,
        pipeline_path: str | Path,
        config_path: str | Path,
        feature_spec_path: str | Path | None = None,
    ) -> LoadedChurnModel:
        from churn_model.serialization import load_pipeline_file

        spec = None
        if feature_spec_path is not None and Path(feature_spec_path).exists():
            spec = FeatureSpec.load(feature_spec_path)
        return cls(
            pipeline=load_pipeline_file(pipeline_path),
            config=load_model_config(config_path),
            feature_spec=spec,
        )

    @classmethod
    def from_artifacts_dir(cls, artifacts_dir: str | Path) -> LoadedChurnModel:
        """From the ``artifacts/`` directory of a logged churn model."""
        artifacts_dir = Path(artifacts_dir)
        return cls.from_files(
            artifacts_dir / PIPELINE_FILE,
            artifacts_dir / CONFIG_FILE,
            artifacts_dir / FEATURE_SPEC_FILE,
        )
