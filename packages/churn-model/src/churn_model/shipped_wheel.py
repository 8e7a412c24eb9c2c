"""The churn-model wheel a logged model carries, so that whoever serves it can install the code
that wrote it.

A logged model's ``requirements.txt`` is what Databricks Model Serving and
``mlflow.pyfunc.spark_udf(env_manager="virtualenv")`` install. ``churn-model==X`` names a package
no index a workspace reads holds (and anyone could publish a public package of that name). So
``log_model`` packs the running churn-model into a wheel, logs it as an artifact and requires it
by a path relative to the model directory: MLflow installs a model's requirements with the model
directory as the working directory, the layout ``mlflow.models.utils.add_libraries_to_model``
produces for Databricks' "custom Python libraries with Model Serving" guide.

The wheel is packed from the installed package (editable or not): it is the code that trained
the model, not a rebuild. ``check_wheel`` reads it without installing or importing anything.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from importlib.metadata import distribution
from pathlib import Path

PACKAGE = "churn_model"
DISTRIBUTION = "churn-model"
WHEEL_KEY = "churn_model_wheel"
_TAG = "py3-none-any"
_WHEEL_NAME = re.compile(r"^churn_model-(?P<version>[0-9][0-9A-Za-z.+!_-]*)-py3-none-any\.whl$")
_DIST_INFO_FILES = frozenset({"METADATA", "WHEEL", "RECORD"})


def wheel_filename(version: str) -> str:
    return f"{PACKAGE}-{version}-{_TAG}.whl"


def wheel_version(filename: str) -> str | None:
    """The version in a churn-model wheel's file name; None if it is not one."""
    match = _WHEEL_NAME.match(filename)
    return match["version"] if match else None


def package_files() -> dict[str, Path]:
    """The installed package's files by their path inside a wheel (no bytecode caches)."""
    import churn_model

    root = Path(churn_model.__file__).parent
    return {
        f"{PACKAGE}/{path.relative_to(root).as_posix()}": path
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def pack_installed_wheel(dst_dir: Path) -> Path:
    """Pack the running churn-model (its package files and METADATA) into a pure-Python wheel."""
    from wheel.wheelfile import WheelFile

    dist = distribution(DISTRIBUTION)
    version = dist.version
    metadata = dist.read_text("METADATA")
    if metadata is None:  # pragma: no cover - every installed distribution has one
        raise FileNotFoundError(f"{DISTRIBUTION} {version} is installed without METADATA")
    target = Path(dst_dir) / wheel_filename(version)
    with tempfile.TemporaryDirectory(prefix="churn-model-wheel-") as tmp:
        tree = Path(tmp)
        for arcname, path in package_files().items():
            out = tree / arcname
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(path.read_bytes())
        info = tree / f"{PACKAGE}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(metadata, encoding="utf-8")
        (info / "WHEEL").write_text(
            f"Wheel-Version: 1.0\nGenerator: churn-model {version}\n"
            f"Root-Is-Purelib: true\nTag: {_TAG}\n",
            encoding="utf-8",
        )
        with WheelFile(target, "w") as wheel:
            wheel.write_files(str(tree))
    return target


def released_package_hashes(version: str) -> dict[str, str] | None:
    """SHA-256 of the installed package's files, if it is a released ``version``: an editable
    (workspace) install does not identify its content by version, so it gives None."""
    dist = distribution(DISTRIBUTION)
    direct_url = dist.read_text("direct_url.json") or ""
    if dist.version != version or re.search(r'"editable"\s*:\s*true', direct_url):
        return None
    return {name: _sha256(path.read_bytes()) for name, path in package_files().items()}


def check_wheel(path: Path, version: str, reference: dict[str, str] | None) -> str | None:
    """Why ``path`` is not a churn-model ``version`` wheel as ``pack_installed_wheel`` writes it
    (None when it is). Reads the archive only: every member's hash is checked against its RECORD;
    only the package and its dist-info may be in it (no ``.pth``, no ``.data`` scripts, no other
    package); and given ``reference`` (``released_package_hashes``), the package files must be
    byte for byte those."""
    from wheel.wheelfile import WheelError, WheelFile

    if wheel_version(path.name) != version:
        return f"{path.name} is not the churn-model {version} wheel"
    info = f"{PACKAGE}-{version}.dist-info/"
    try:
        with WheelFile(path) as wheel:
            names = [n for n in wheel.namelist() if not n.endswith("/")]
            shipped = {}
            for name in names:
                data = wheel.read(name)  # WheelFile checks it against RECORD
                if name.startswith(f"{PACKAGE}/"):
                    shipped[name] = _sha256(data)
    except (WheelError, OSError, ValueError, KeyError) as exc:
        return f"{path.name} is not a valid wheel ({exc})"
    foreign = sorted(
        n
        for n in names
        if not (n.startswith(f"{PACKAGE}/") and not n.endswith(".pth"))
        and not (n.startswith(info) and n[len(info) :] in _DIST_INFO_FILES)
    )
    if foreign:
        return f"{path.name} holds files churn-model's wheel does not: {foreign[:5]}"
    if reference is not None and shipped != reference:
        differing = sorted(set(shipped) ^ set(reference)) or sorted(
            n for n in shipped if shipped[n] != reference[n]
        )
        return f"{path.name} differs from the released churn-model {version} in {differing[:5]}"
    return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
