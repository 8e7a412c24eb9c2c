"""Save and load fitted pipelines with skops, trusting an explicit list of types (never pickle
files).

skops refuses to construct any type outside its default-safe set unless the caller trusts it.
``TRUSTED_TYPES`` is exactly what ``build_pipeline`` can produce beyond that set (a test dumps a
pipeline of every estimator kind and checks the list covers it, and nothing broader is trusted).

A skops load audits every node of the file (0.2-0.3 s for the seed's 200-tree forest), and one
process often loads the same version several times (the local platform runs train, validation,
deployment and scoring in one driver). So each load remembers, by the SHA-256 of the file's bytes,
the pipeline it built, pickled in memory; the same bytes load again as a fresh copy from that
pickle (about 0.01 s). A changed file has another hash and is audited anew, and nothing pickled
ever comes from or goes to a file.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
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


#: SHA-256 of an audited file's bytes -> its pipeline, pickled; the most recent few only
_AUDITED: OrderedDict[str, bytes] = OrderedDict()
_AUDITED_MAX = 4
_AUDITED_LOCK = threading.Lock()


def load_pipeline_file(path: str | Path) -> Any:
    """Load a skops file, refusing any type outside the default-safe set and TRUSTED_TYPES.

    Every call returns a new pipeline object; bytes audited earlier in this process are not
    audited again (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"pipeline file {path} does not exist; the model dir is incomplete")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with _AUDITED_LOCK:
        known = _AUDITED.get(digest)
        if known is not None:
            _AUDITED.move_to_end(digest)
    if known is not None:
        return pickle.loads(known)  # pickled by this process from an audited load, never a file
    pipeline = _audited_load(path, data)
    with _AUDITED_LOCK:
        _AUDITED[digest] = pickle.dumps(pipeline, protocol=pickle.HIGHEST_PROTOCOL)
        while len(_AUDITED) > _AUDITED_MAX:
            _AUDITED.popitem(last=False)
    return pipeline


def _audited_load(path: Path, data: bytes) -> Any:
    import skops.io
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return skops.io.loads(data, trusted=list(TRUSTED_TYPES))
    except UntrustedTypesFoundException as exc:
        untrusted = sorted(set(skops.io.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
        raise UntrustedModelError(
            f"refusing to load {path}: it contains untrusted type(s) {untrusted}. "
            "It was not written by churn-model's log_model or was tampered with; "
            "re-train and log it with churn-model"
        ) from exc
