"""A churn model, downloaded and loaded once on the driver, held as bytes for the executors.

Executors get the model in a Spark broadcast, so scoring never relies on the driver's local
filesystem being visible to executors. What is broadcast is the model the driver loaded (with
skops, trusting only churn-model's types), pickled: unpickling it takes ~15 ms where a skops load
of a 200-tree forest takes 0.3-0.7 s per Python worker. It adds no trust boundary: the bytes come
from this driver process, as the scoring function itself does (Spark pickles it too).
"""

from __future__ import annotations

import hashlib
import pickle
import tempfile
from dataclasses import dataclass

from churn_model.feature_spec import FeatureSpec
from churn_model.loaded import CONFIG_FILE, FEATURE_SPEC_FILE, PIPELINE_FILE, LoadedChurnModel
from churn_scoring.errors import ModelFeatureSpecError, ModelNotFoundError
from churn_scoring.model_ref import ModelRef

MODEL_FILES = (PIPELINE_FILE, CONFIG_FILE, FEATURE_SPEC_FILE)


@dataclass(frozen=True)
class ModelBundle:
    """What scoring needs from a logged churn model, including the model for the executors."""

    ref: ModelRef
    key: str  # content hash of the model's files: executors cache the loaded model under it
    model: bytes  # the LoadedChurnModel, pickled (see the module docstring)
    feature_spec: FeatureSpec
    feature_names: tuple[str, ...]
    threshold: float


def fetch_model(ref: ModelRef) -> ModelBundle:
    """Download ``ref`` once (churn-model's ``download_model``), load it on the driver (trusted
    types, config, feature spec) so a broken model fails here with a clear message rather than
    inside a Spark task."""
    from churn_model.errors import ModelLoadError
    from churn_model.mlflow_model import download_model

    with tempfile.TemporaryDirectory(prefix="churn-scoring-") as tmp:
        try:
            artifacts = download_model(ref.download_uri, tmp)
        except ModelLoadError as exc:
            raise ModelNotFoundError(
                f"Model {ref.uri}: {exc.problem}.",
                exc.fix or "check the model URI and the MLflow tracking/registry URI",
            ) from None
        if not (artifacts / FEATURE_SPEC_FILE).is_file():
            raise ModelFeatureSpecError(
                f"Model {ref.uri} was logged without a feature spec ({FEATURE_SPEC_FILE}), "
                "so its features cannot be looked up by customer_id.",
                "log the model with churn_model.log_model(..., feature_spec=FeatureSpec.for_table"
                "(<features table>, config.features.columns)) and register that version",
            )
        model = LoadedChurnModel.from_artifacts_dir(artifacts)
        digest = hashlib.sha256()
        for name in sorted(MODEL_FILES):
            digest.update(name.encode())
            digest.update(hashlib.sha256((artifacts / name).read_bytes()).digest())
    assert model.feature_spec is not None
    return ModelBundle(
        ref=ref,
        key=digest.hexdigest(),
        model=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
        feature_spec=model.feature_spec,
        feature_names=tuple(model.feature_names),
        threshold=float(model.threshold),
    )
