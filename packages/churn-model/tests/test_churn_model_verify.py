"""verify_model_dir: a logged churn model passes; any file it did not write is refused, by reading
files only (a foreign entry file that would leave a marker on import never runs)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pytest
import yaml

from churn_model import FeatureSpec, __version__, load_model, log_model
from churn_model.errors import UntrustedModelError
from churn_model.evaluation import METRIC_NAMES, metrics_from_proba, score
from churn_model.feature_types import MLFLOW_TYPES, mlflow_type
from churn_model.shipped_wheel import (
    check_wheel,
    pack_installed_wheel,
    package_files,
    wheel_filename,
)
from churn_model.training import TrainResult
from churn_model.verify import verify_model_dir

WHEEL = f"artifacts/{wheel_filename(__version__)}"


@pytest.fixture(scope="module")
def model_dir(
    mlflow_store: str, trained: TrainResult, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    spec = FeatureSpec.for_table("main.churn.churn_features", trained.config.features.columns)
    with mlflow.start_run():
        info = log_model(trained.pipeline, trained.config, feature_spec=spec)
    target = tmp_path_factory.mktemp("logged")
    return Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(target)))


def test_a_logged_churn_model_is_verified_and_loads_through_skops(
    model_dir: Path, trained: TrainResult
) -> None:
    verify_model_dir(model_dir)  # no exception
    loaded = load_model(str(model_dir))
    rows = trained.X_test.head(20)
    assert np.allclose(loaded.predict_proba(rows), trained.pipeline.predict_proba(rows)[:, 1])


def _edit_mlmodel(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        spec = yaml.safe_load((root / "MLmodel").read_text())
        change(spec)
        (root / "MLmodel").write_text(yaml.safe_dump(spec))

    return edit


def _rewrite_wheel(change: Callable[[dict[str, bytes]], None]) -> Callable[[Path], None]:
    """Rewrite the shipped wheel's members (RECORD untouched: its hashes then no longer match)."""

    def edit(root: Path) -> None:
        path = root / WHEEL
        with zipfile.ZipFile(path) as wheel:
            members = {name: wheel.read(name) for name in wheel.namelist()}
        change(members)
        with zipfile.ZipFile(path, "w") as wheel:
            for name, data in members.items():
                wheel.writestr(name, data)

    return edit


def _repack_wheel_with(extra: str) -> Callable[[Path], None]:
    """A wheel whose RECORD is consistent, but which carries one more file than churn-model."""

    def edit(root: Path) -> None:
        from wheel.wheelfile import WheelFile

        path = root / WHEEL
        tree = root.parent / "unpacked"
        with zipfile.ZipFile(path) as wheel:
            wheel.extractall(tree)
        (tree / f"churn_model-{__version__}.dist-info" / "RECORD").unlink()
        (tree / extra).parent.mkdir(parents=True, exist_ok=True)
        (tree / extra).write_text("import os\n")
        path.unlink()
        with WheelFile(path, "w") as wheel:
            wheel.write_files(str(tree))

    return edit


def _append(name: str, line: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        with (root / name).open("a") as handle:
            handle.write(f"\n{line}\n")

    return edit


def _conda_pip(entry: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        env = yaml.safe_load((root / "conda.yaml").read_text())
        next(d for d in env["dependencies"] if isinstance(d, dict))["pip"].append(entry)
        (root / "conda.yaml").write_text(yaml.safe_dump(env))

    return edit


def _marker_entry(root: Path) -> None:
    marker = root.parent / "entry-ran"
    (root / "pyfunc_entry.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda root: (root / "MLmodel").unlink(), "not_a_model"),
        (_edit_mlmodel(lambda s: s["flavors"].update(sklearn={})), "foreign_flavor"),
        (
            _edit_mlmodel(lambda s: s["flavors"]["python_function"].update(loader_module="x")),
            "foreign_flavor",
        ),
        (
            _edit_mlmodel(
                lambda s: s["flavors"]["python_function"].update(model_code_path="/tmp/evil.py")
            ),
            "foreign_code",
        ),
        (
            _edit_mlmodel(lambda s: s["flavors"]["python_function"].update(code="code")),
            "foreign_code",
        ),
        (_marker_entry, "foreign_code"),
        (
            _edit_mlmodel(
                lambda s: s["flavors"]["python_function"]["artifacts"].pop("model_config")
            ),
            "unexpected_artifacts",
        ),
        (lambda root: (root / "python_model.pkl").write_bytes(b"x"), "unexpected_files"),
        (lambda root: (root / "artifacts" / "feature_spec.json").unlink(), "unexpected_files"),
        (lambda root: (root / WHEEL).unlink(), "unexpected_files"),
        (
            _rewrite_wheel(lambda m: m.update({"churn_model/__init__.py": b"import os\n"})),
            "foreign_wheel",
        ),
        (_repack_wheel_with("evil/__init__.py"), "foreign_wheel"),
        (_repack_wheel_with("churn_model-init.pth"), "foreign_wheel"),
        (_repack_wheel_with(f"churn_model-{__version__}.data/scripts/run"), "foreign_wheel"),
        (
            lambda root: (root / WHEEL).rename(root / "artifacts/churn_model-9.9-py3-none-any.whl"),
            "unexpected_files",
        ),
        (
            _edit_mlmodel(lambda s: s["metadata"].update(churn_model_version="9.9")),
            "unexpected_artifacts",
        ),
        (
            _append("requirements.txt", "--extra-index-url https://pypi.example.org"),
            "foreign_requirements",
        ),
        (
            _append("requirements.txt", "git+https://github.com/evil/churn-model"),
            "foreign_requirements",
        ),
        (_append("requirements.txt", "artifacts/model_config.yaml"), "foreign_requirements"),
        (
            _conda_pip("evil-1.0-py3-none-any.whl"),
            "foreign_requirements",
        ),
    ],
)
def test_anything_churn_model_did_not_write_is_refused(
    model_dir: Path, tmp_path: Path, edit: Callable[[Path], None], reason: str
) -> None:
    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    edit(copy)
    with pytest.raises(UntrustedModelError, match="re-train and log it with churn-model") as err:
        verify_model_dir(copy)
    assert err.value.reason == reason
    with pytest.raises(UntrustedModelError) as loading:
        load_model(str(copy))  # the loader checks first: nothing of it is imported or unpickled
    assert loading.value.reason == reason
    assert not (tmp_path / "entry-ran").exists()


def test_a_bytecode_cache_is_refused_with_its_cause_and_fix(
    model_dir: Path, tmp_path: Path
) -> None:
    """What mlflow.pyfunc.load_model leaves in a local store's model folder (it runs the model in
    place): refused, since Python may run the .pyc instead of the checked source, and the
    message says where it came from and what to do."""
    import py_compile

    copy = Path(shutil.copytree(model_dir, tmp_path / "model"))
    py_compile.compile(str(copy / "pyfunc_entry.py"), doraise=True)
    assert list((copy / "__pycache__").glob("pyfunc_entry.*.pyc"))
    with pytest.raises(UntrustedModelError, match="unexpected files") as err:
        verify_model_dir(copy)
    assert err.value.reason == "unexpected_files"
    assert "mlflow.pyfunc.load_model runs it in place" in str(err.value)
    assert "Delete that __pycache__ folder" in str(err.value)
    shutil.rmtree(copy / "__pycache__")
    verify_model_dir(copy)  # the fix it names works


def test_the_shipped_wheel_is_the_running_churn_model_and_its_requirement(
    model_dir: Path,
) -> None:
    with zipfile.ZipFile(model_dir / WHEEL) as wheel:
        shipped = {n for n in wheel.namelist() if n.startswith("churn_model/")}
    assert shipped == set(package_files())
    assert "churn_model/pyfunc_entry.py" in shipped
    requirements = (model_dir / "requirements.txt").read_text().split()
    assert WHEEL in requirements
    assert not [r for r in requirements if r.startswith("churn-model")]


def test_a_released_install_must_match_the_shipped_wheel_byte_for_byte(tmp_path: Path) -> None:
    """Where churn-model is a released install, its version names its content: a wheel of that
    version with any other byte in the package is refused (editable installs skip this)."""
    import hashlib

    wheel = pack_installed_wheel(tmp_path)
    released = {n: hashlib.sha256(p.read_bytes()).hexdigest() for n, p in package_files().items()}
    assert check_wheel(wheel, __version__, released) is None
    released["churn_model/verify.py"] = hashlib.sha256(b"an older verify").hexdigest()
    problem = check_wheel(wheel, __version__, released)
    assert problem is not None
    assert "churn_model/verify.py" in problem
    assert check_wheel(wheel, f"{__version__}.post1", None) is not None  # not its version


def test_one_type_map_for_spark_pandas_and_mlflow_names() -> None:
    assert {mlflow_type(n) for n in ("int", "bigint", "int64", "long", "integer")} == {"long"}
    assert {mlflow_type(n) for n in ("float", "double", "float64", "float32")} == {"double"}
    assert {mlflow_type(n) for n in ("string", "object", "str")} == {"string"}
    assert mlflow_type(" BOOLEAN ") == "boolean"
    assert set(MLFLOW_TYPES.values()) <= {
        "long",
        "double",
        "string",
        "boolean",
        "binary",
        "datetime",
    }
    with pytest.raises(ValueError, match="unknown column type"):
        mlflow_type("decimal(10,2)")


def test_score_is_the_metric_behind_metrics_from_proba() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    metrics = metrics_from_proba(y, p, 0.4)
    for name in ("roc_auc", "pr_auc", "log_loss", "brier", "f1", "precision", "recall"):
        threshold = 0.4 if name in ("f1", "precision", "recall") else 0.5
        assert score(name, y, p, threshold) == pytest.approx(getattr(metrics, name))
    assert "accuracy" in METRIC_NAMES
    assert score("accuracy", y, p, 0.4) == pytest.approx(np.mean((p >= 0.4) == y))
