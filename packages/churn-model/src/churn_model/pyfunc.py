"""The MLflow pyfunc implementation. Imports mlflow: only loaded by MLflow itself (through
``pyfunc_entry.py``, a models-from-code file, so nothing is cloudpickled)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from churn_model.errors import ChurnModelError
from churn_model.loaded import LoadedChurnModel

OUTPUTS = ("probability", "label")


class ChurnPyfuncModel(PythonModel):
    """``predict`` -> churn probability (float64, 1-d); ``params={"output": "label"}`` -> 0/1."""

    def __init__(self) -> None:
        self._model: LoadedChurnModel | None = None

    def load_context(self, context: Any) -> None:
        artifacts = context.artifacts
        self._model = LoadedChurnModel.from_files(
            artifacts["pipeline"], artifacts["model_config"], artifacts.get("feature_spec")
        )

    @property
    def churn_model(self) -> LoadedChurnModel:
        if self._model is None:
            raise ChurnModelError("the churn pyfunc model was used before MLflow loaded it")
        return self._model

    # No type hints on purpose: MLflow would derive a schema from them and override ours.
    def predict(self, context, model_input, params=None):
        output = (params or {}).get("output", "probability")
        if output not in OUTPUTS:
            raise ChurnModelError(
                f"unknown output {output!r}; use params={{'output': 'probability'}} or 'label'"
            )
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        if output == "label":
            return self.churn_model.predict_label(frame)
        return self.churn_model.predict_proba(frame)
