"""The churn-model wheel installs outside the workspace, without pyspark, and trains there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from churn_release.shared_bytecode import seed_environment

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent

SCRIPT = """
import importlib.util, sys
import numpy as np
import churn_model
assert "mlflow" not in sys.modules, "import churn_model must stay light"
from churn_model import model_config_from_mapping, train
from churn_model_data import make_customers

features, labels = make_customers(500, seed=3)
config = model_config_from_mapping(
    {"estimator": {"kind": "logistic_regression"},
     "features": {"interactions": ["contract_x_fiber", "electronic_check"]}}
)
result = train(features, labels, config)
proba = result.pipeline.predict_proba(result.X_test)[:, 1]
assert ((proba >= 0) & (proba <= 1)).all()
assert result.test_metrics.roc_auc > 0.6, result.test_metrics
assert importlib.util.find_spec("pyspark") is None, "pyspark must not be installed"
assert churn_model.__file__.startswith(sys.prefix), churn_model.__file__
print("OK", churn_model.__version__, round(result.test_metrics.roc_auc, 3))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_wheel_trains_and_predicts_in_a_fresh_venv_without_pyspark(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    dist = tmp_path / "dist"

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    run(uv, "build", "--package", "churn-model", "--wheel", "--out-dir", str(dist), cwd=REPO)
    wheels = list(dist.glob("churn_model-*.whl"))
    assert len(wheels) == 1, wheels
    venv = tmp_path / "venv"
    run(uv, "venv", str(venv), "--python", f"{sys.version_info.major}.{sys.version_info.minor}")
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--python", str(python), str(wheels[0]))
    seed_environment(venv)  # CI's compiled bytecode: the script's imports need not compile it
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(HERE / "churn_model_data.py", work / "churn_model_data.py")
    (work / "check.py").write_text(SCRIPT, encoding="utf-8")
    out = run(str(python), "check.py", cwd=work)
    assert out.stdout.startswith("OK "), out.stdout + out.stderr


PREDICT = """
import json, sys
import mlflow.pyfunc, pandas as pd
import churn_model
assert churn_model.__file__.startswith(sys.prefix), churn_model.__file__  # the shipped wheel's
example = json.load(open("input_example.json"))
frame = pd.DataFrame(example["data"], columns=example["columns"])
print(json.dumps([float(p) for p in mlflow.pyfunc.load_model(".").predict(frame)]))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_logged_model_installs_from_its_own_requirements_and_predicts(
    mlflow_store: str, trained, tmp_path: Path
) -> None:
    """What Model Serving does with a version: a fresh environment from the model's
    requirements.txt, run from the model directory (as MLflow's virtualenv manager does), then
    pyfunc. churn-model comes from the wheel the model ships, not from an index."""
    import mlflow
    import numpy as np

    from churn_model import log_model

    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    example = trained.X_test.head(5)
    with mlflow.start_run():
        info = log_model(trained.pipeline, trained.config, input_example=example)
    model = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "m")))
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    for args in (
        (uv, "venv", str(venv), "--python", f"{sys.version_info.major}.{sys.version_info.minor}"),
        (uv, "pip", "install", "--python", str(python), "-r", "requirements.txt"),
    ):
        done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=model)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    seed_environment(venv)
    done = subprocess.run(
        (str(python), "-c", PREDICT), capture_output=True, text=True, env=env, cwd=model
    )
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout.strip().splitlines()[-1])
    ours = trained.pipeline.predict_proba(example[trained.config.features.columns])[:, 1]
    assert np.allclose(served, ours)
