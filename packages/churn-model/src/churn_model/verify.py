"""Check that a downloaded model directory is exactly what ``log_model`` writes, before loading it.

``mlflow.pyfunc.load_model`` runs a version's models-from-code file (or unpickles another flavor),
so anyone able to register a version could run code as whoever loads it. ``verify_model_dir``
reads files only (YAML, hashes, names; it imports and unpickles nothing) and refuses a directory
that is not churn-model's own format: one ``python_function`` flavor loaded from code, that code
being the ``pyfunc_entry.py`` this package ships (same SHA-256), the three artifacts under their
names, and no other file (no pickle, no extra code). ``download_model`` (so ``load_model`` and
every caller) runs it before loading the pipeline through skops with the trusted-type list,
never through pyfunc.

Each refusal carries a short ``reason`` code (``UntrustedModelError.reason``) to tag versions with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from churn_model.errors import UntrustedModelError
from churn_model.loaded import CONFIG_FILE, FEATURE_SPEC_FILE, PIPELINE_FILE

ENTRY_FILE = "pyfunc_entry.py"
CODE_LOADER = "mlflow.pyfunc.loaders.code_model"

#: artifact key -> path inside the model directory, as ``log_model`` writes them
ARTIFACTS: dict[str, str] = {
    "pipeline": f"artifacts/{PIPELINE_FILE}",
    "model_config": f"artifacts/{CONFIG_FILE}",
    "feature_spec": f"artifacts/{FEATURE_SPEC_FILE}",
}

#: files MLflow writes next to the model (environment, examples, registry metadata)
_MLFLOW_FILES = frozenset(
    {
        "MLmodel",
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "input_example.json",
        "serving_input_example.json",
        "registered_model_meta",
    }
)
ALLOWED_FILES = _MLFLOW_FILES | {ENTRY_FILE} | set(ARTIFACTS.values())

# reason codes
NOT_A_MODEL = "not_a_model"
FOREIGN_FLAVOR = "foreign_flavor"
FOREIGN_CODE = "foreign_code"
UNEXPECTED_ARTIFACTS = "unexpected_artifacts"
UNEXPECTED_FILES = "unexpected_files"


def entry_sha256() -> str:
    """SHA-256 of the models-from-code file this churn-model version ships."""
    return _sha256(Path(__file__).with_name(ENTRY_FILE))


def verify_model_dir(model_dir: str | Path) -> None:
    """Raise ``UntrustedModelError`` (with ``reason``) unless ``model_dir`` is churn-model's format.

    Reads files only: nothing from the directory is imported, executed or unpickled.
    """
    import yaml

    root = Path(model_dir)
    mlmodel = root / "MLmodel"
    if not mlmodel.is_file():
        _refuse(NOT_A_MODEL, f"{root} has no MLmodel file: it is not an MLflow model")
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        _refuse(NOT_A_MODEL, f"its MLmodel file cannot be read: {exc}")
    if not isinstance(spec, dict):
        _refuse(NOT_A_MODEL, "its MLmodel file is not a mapping")

    flavors = spec.get("flavors")
    if not isinstance(flavors, dict) or set(flavors) != {"python_function"}:
        found = sorted(flavors) if isinstance(flavors, dict) else flavors
        _refuse(FOREIGN_FLAVOR, f"flavors {found}; churn-model writes python_function only")
    pyfunc = flavors["python_function"]
    if not isinstance(pyfunc, dict):
        _refuse(FOREIGN_FLAVOR, "its python_function flavor is not a mapping")
    if pyfunc.get("loader_module") != CODE_LOADER:
        _refuse(
            FOREIGN_FLAVOR,
            f"loader {pyfunc.get('loader_module')!r}; churn-model models load from code "
            f"({CODE_LOADER}), never from a pickled python_model",
        )
    code_path = str(pyfunc.get("model_code_path") or "")
    if PurePosixPath(code_path.replace("\\", "/")).name != ENTRY_FILE:
        _refuse(FOREIGN_CODE, f"model code {code_path!r} is not churn-model's {ENTRY_FILE}")
    if pyfunc.get("code"):
        _refuse(FOREIGN_CODE, f"it ships code paths ({pyfunc.get('code')!r})")
    entry = root / ENTRY_FILE
    if not entry.is_file() or _sha256(entry) != entry_sha256():
        _refuse(
            FOREIGN_CODE,
            f"its {ENTRY_FILE} is not the one churn-model ships (SHA-256 differs or file missing)",
        )

    artifacts = pyfunc.get("artifacts")
    paths = (
        {k: (v or {}).get("path") if isinstance(v, dict) else v for k, v in artifacts.items()}
        if isinstance(artifacts, dict)
        else {}
    )
    # the feature spec is optional (log_model(feature_spec=None)); the others are not
    expected = {k: v for k, v in ARTIFACTS.items() if k in paths or k != "feature_spec"}
    if paths != expected:
        _refuse(
            UNEXPECTED_ARTIFACTS,
            f"artifacts {paths}; churn-model writes exactly {ARTIFACTS} "
            "(feature_spec only when given one)",
        )

    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}
    unexpected = sorted(files - ALLOWED_FILES)
    missing = sorted(set(expected.values()) - files)
    if unexpected or missing:
        detail = []
        if unexpected:
            detail.append(f"unexpected files {unexpected[:10]}")
        if missing:
            detail.append(f"missing artifacts {missing}")
        _refuse(UNEXPECTED_FILES, "; ".join(detail))


def read_input_schema(model_dir: str | Path) -> Any:
    """The input schema recorded in a verified model's MLmodel (parsed, nothing executed)."""
    from mlflow.models import Model

    return Model.load(str(Path(model_dir) / "MLmodel")).get_input_schema()


def _sha256(path: Path) -> str:
    # normalise line endings: a checkout on Windows must not make the shipped file "foreign"
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def _refuse(reason: str, detail: str) -> Any:
    raise UntrustedModelError(
        f"refusing to load this model: {detail}. Only models logged by churn_model.log_model "
        "are loaded; re-train and log it with churn-model",
        reason=reason,
    )
