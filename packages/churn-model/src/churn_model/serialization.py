"""Save and load fitted pipelines with skops, trusting an explicit list of types (never pickle).

skops refuses to construct any type outside its default-safe set unless the caller trusts it.
``TRUSTED_TYPES`` is exactly what ``build_pipeline`` can produce beyond that set (a test dumps a
pipeline of every estimator kind and checks the list covers it, and nothing broader is trusted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn_model.errors import ModelLoadError, UntrustedModelError

TRUSTED_TYPES: tuple[str, ...] = (
    "churn_model.feature_frame.FeatureFrame",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
)


def dump_pipeline(pipeline: Any, path: str | Path) -> Path:
    import skops.io

    path = Path(path)
    skops.io.dump(pipeline, path)
    untrusted = set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
    if untrusted:
        path.unlink()
        raise UntrustedModelError(
            f"the pipeline holds types churn-model does not trust: {sorted(untrusted)}; "
            "build it with churn_model.build_pipeline (or add the types to TRUSTED_TYPES "
            "after reviewing them)"
        )
    return path


def load_pipeline_file(path: str | Path) -> Any:
    """Load a skops file, refusing any type outside the default-safe set and TRUSTED_TYPES."""
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"pipeline file {path} does not exist; the model dir is incomplete")
    try:
        return skops.io.load(path, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        untrusted = sorted(set(skops.io.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
        raise UntrustedModelError(
            f"refusing to load {path}: it contains untrusted type(s) {untrusted}. "
            "It was not written by churn-model's log_model or was tampered with; "
            "re-train and log it with churn-model"
        ) from exc
