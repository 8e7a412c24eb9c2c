"""Check that a downloaded model directory is exactly what ``log_model`` writes, before loading it.

``mlflow.pyfunc.load_model`` runs a version's models-from-code file (or unpickles another flavor),
so anyone able to register a version could run code as whoever loads it. ``verify_model_dir``
reads files only (YAML, hashes, names; it imports and unpickles nothing) and refuses a directory
that is not churn-model's own format: one ``python_function`` flavor loaded from code, that code
being the ``pyfunc_entry.py`` this package ships (same SHA-256), the artifacts under their names,
no other file (no pickle, no extra code), a shipped churn-model wheel that holds only churn-model
(``shipped_wheel.check_wheel``), and requirements that are package names or that wheel (no index
option, URL or other path for a serving environment to install). ``download_model`` (so
``load_model`` and every caller) runs it before loading the pipeline through skops with the
trusted-type list, never through pyfunc.

Each refusal carries a short ``reason`` code (``UntrustedModelError.reason``) to tag versions with.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Any

from churn_model.errors import UntrustedModelError
from churn_model.loaded import CONFIG_FILE, FEATURE_SPEC_FILE, PIPELINE_FILE
from churn_model.shipped_wheel import (
    WHEEL_KEY,
    check_wheel,
    released_package_hashes,
    wheel_filename,
)

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
FOREIGN_WHEEL = "foreign_wheel"
FOREIGN_REQUIREMENTS = "foreign_requirements"

# a requirement by name (extras, version specifiers, markers), resolved from the index in use:
# nothing that pip would read as an option, a URL or a local path
_NAMED = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._ -]*\])?\s*([<>=!~][^/\\@:;]*)?(;[^/\\@:]*)?$"
)
_ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar")


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
    # the feature spec is optional (log_model(feature_spec=None)); so is the wheel (models
    # logged before churn-model shipped it); the others are not
    wheel_path = paths.pop(WHEEL_KEY, None)
    expected = {k: v for k, v in ARTIFACTS.items() if k in paths or k != "feature_spec"}
    if paths != expected:
        _refuse(
            UNEXPECTED_ARTIFACTS,
            f"artifacts {paths}; churn-model writes exactly {ARTIFACTS} "
            "(feature_spec only when given one)",
        )
    allowed = set(ALLOWED_FILES)
    if wheel_path is not None:
        metadata = spec.get("metadata") if isinstance(spec.get("metadata"), dict) else {}
        version = str(metadata.get("churn_model_version", ""))
        if wheel_path != f"artifacts/{wheel_filename(version)}":
            _refuse(
                UNEXPECTED_ARTIFACTS,
                f"wheel artifact {wheel_path!r} is not the churn-model {version or '?'} wheel "
                "its metadata names",
            )
        allowed.add(wheel_path)
        if (root / wheel_path).is_file():
            problem = check_wheel(root / wheel_path, version, released_package_hashes(version))
            if problem:
                _refuse(FOREIGN_WHEEL, problem)
    _check_requirements(root, wheel_path)

    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()}
    expected_files = set(expected.values()) | ({wheel_path} if wheel_path else set())
    unexpected = sorted(files - allowed)
    missing = sorted(expected_files - files)
    if unexpected or missing:
        detail = []
        if unexpected:
            detail.append(f"unexpected files {unexpected[:10]}")
        if missing:
            detail.append(f"missing artifacts {missing}")
        bytecode = any("__pycache__" in PurePosixPath(name).parts for name in unexpected)
        _refuse(UNEXPECTED_FILES, "; ".join(detail), BYTECODE_FIX if bytecode else RETRAIN_FIX)


def _check_requirements(root: Path, wheel_path: str | None) -> None:
    """What a serving environment would install: only requirements by name (from the index in
    use) and the shipped wheel, in requirements.txt and conda.yaml's pip list; no pip option
    (``--index-url``, ``-e``, ``-r``), URL or other local path."""
    import yaml

    entries: list[str] = []
    requirements = root / "requirements.txt"
    if requirements.is_file():
        entries += requirements.read_text(encoding="utf-8").splitlines()
    conda = root / "conda.yaml"
    if conda.is_file():
        try:
            env = yaml.safe_load(conda.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            _refuse(FOREIGN_REQUIREMENTS, f"its conda.yaml cannot be read: {exc}")
        dependencies = env.get("dependencies") if isinstance(env, dict) else None
        for dependency in dependencies or []:
            if isinstance(dependency, dict):
                entries += [str(e) for e in dependency.get("pip") or []]
    foreign = [
        line.strip()
        for line in entries
        if line.strip()
        and not line.strip().startswith("#")
        and line.strip() != wheel_path
        and not (_NAMED.match(line.strip()) and not line.strip().endswith(_ARCHIVES))
    ]
    if foreign:
        _refuse(
            FOREIGN_REQUIREMENTS,
            f"requirements {foreign[:5]} are neither package names from the index nor the "
            "churn-model wheel it ships (a serving environment would install them)",
        )


def read_input_schema(model_dir: str | Path) -> Any:
    """The input schema recorded in a verified model's MLmodel (parsed, nothing executed)."""
    from mlflow.models import Model

    return Model.load(str(Path(model_dir) / "MLmodel")).get_input_schema()


def _sha256(path: Path) -> str:
    # normalise line endings: a checkout on Windows must not make the shipped file "foreign"
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


RETRAIN_FIX = "re-train and log it with churn-model"
#: A bytecode cache in a model's folder is refused like any file log_model did not write (Python
#: may run it instead of the checked pyfunc_entry.py), but it is usually no attack: Python writes
#: one there when ``mlflow.pyfunc.load_model`` runs a model in place from a local MLflow store.
BYTECODE_FIX = (
    "this one holds a Python bytecode cache (__pycache__), which Python writes into the model's "
    "own folder when mlflow.pyfunc.load_model runs it in place from a local MLflow store. Delete "
    "that __pycache__ folder from the model's artifacts, and load models with "
    "churn_model.load_model, or with mlflow.pyfunc.load_model(uri, dst_path=<an empty folder>)"
)


def _refuse(reason: str, detail: str, fix: str = RETRAIN_FIX) -> Any:
    raise UntrustedModelError(
        f"refusing to load this model: {detail}. Only models logged by churn_model.log_model "
        f"are loaded; {fix}",
        reason=reason,
    )
