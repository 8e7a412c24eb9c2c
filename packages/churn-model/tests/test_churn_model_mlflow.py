from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
import skops.io
from mlflow import MlflowClient
from mlflow.models.model import ModelInfo
from sklearn.preprocessing import FunctionTransformer

import churn_model
from churn_model import FeatureSpec, load_feature_spec, load_model, log_model
from churn_model.errors import FeatureSpecError, ModelLoadError, UntrustedModelError
from churn_model.loaded import PIPELINE_FILE, LoadedChurnModel
from churn_model.serialization import load_pipeline_file
from churn_model.training import TrainResult

NAME = "churn-model-test"


@pytest.fixture(scope="module")
def spec(trained: TrainResult) -> FeatureSpec:
    return FeatureSpec.for_table("main.churn.churn_features", trained.config.features.columns)


@pytest.fixture(scope="module")
def registered(mlflow_store: str, trained: TrainResult, spec: FeatureSpec) -> ModelInfo:
    with mlflow.start_run():
        return log_model(
            trained.pipeline,
            trained.config,
            feature_spec=spec,
            input_example=trained.X_train,
            registered_model_name=NAME,
        )


def test_version_is_registered_with_signature_and_metadata(
    registered: ModelInfo, trained: TrainResult
) -> None:
    version = MlflowClient().get_model_version(NAME, str(registered.registered_model_version))
    assert version.run_id == registered.run_id
    signature = registered.signature
    assert signature is not None
    assert signature.inputs.input_names() == trained.config.features.columns
    types = {c.name: c.type.name for c in signature.inputs.inputs}
    assert types["tenure"] == "long"
    assert types["monthly_charges"] == "double"
    assert types["contract"] == "string"
    assert signature.params is not None
    assert signature.params.to_dict() == [
        {"name": "output", "default": "probability", "shape": None, "type": "string"}
    ]
    assert registered.metadata is not None
    assert registered.metadata["threshold"] == 0.4
    assert registered.metadata["categorical_features"] == trained.config.features.categorical


def test_pyfunc_by_registry_uri_returns_the_pipelines_probabilities(
    registered: ModelInfo, trained: TrainResult, tmp_path: Path
) -> None:
    # from a copy: run in place, it would leave __pycache__ in the store (verify refuses it)
    model = mlflow.pyfunc.load_model(
        f"models:/{NAME}/{registered.registered_model_version}", dst_path=str(tmp_path)
    )
    proba = model.predict(trained.X_test)
    assert isinstance(proba, np.ndarray)
    assert proba.dtype == np.float64
    assert proba.ndim == 1
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba, trained.pipeline.predict_proba(trained.X_test)[:, 1])
    labels = model.predict(trained.X_test, params={"output": "label"})
    np.testing.assert_array_equal(labels, (proba >= 0.4).astype(np.int64))
    assert 0 < labels.sum() < len(labels)


def test_logged_artifacts_and_requirements(registered: ModelInfo) -> None:
    local = Path(mlflow.artifacts.download_artifacts(registered.model_uri))
    assert {p.name for p in (local / "artifacts").iterdir()} == {
        "pipeline.skops",
        "model_config.yaml",
        "feature_spec.json",
        f"churn_model-{churn_model.__version__}-py3-none-any.whl",
    }
    requirements = (local / "requirements.txt").read_text().split()
    names = {r.split("==")[0] for r in requirements}
    # the shipped wheel by a path relative to the model dir, never churn-model==X from an index
    assert f"artifacts/churn_model-{churn_model.__version__}-py3-none-any.whl" in requirements
    assert not any(r.startswith("churn-model") for r in requirements)
    assert {"scikit-learn", "skops", "numpy", "pandas"} <= names
    assert "pyspark" not in names
    assert not (local / "uv.lock").exists()  # not the whole workspace lock
    assert len(requirements) < 12


def test_load_model_gives_the_fitted_pipeline_threshold_and_spec(
    registered: ModelInfo, trained: TrainResult, spec: FeatureSpec
) -> None:
    loaded = load_model(f"models:/{NAME}/{registered.registered_model_version}")
    assert isinstance(loaded, LoadedChurnModel)
    assert loaded.threshold == 0.4
    assert loaded.feature_spec == spec
    assert loaded.feature_names == trained.config.features.columns
    assert loaded.config == trained.config
    np.testing.assert_allclose(
        loaded.predict_proba(trained.X_test), trained.pipeline.predict_proba(trained.X_test)[:, 1]
    )


def test_load_pipeline_is_a_deprecated_alias_of_load_model(
    registered: ModelInfo, trained: TrainResult
) -> None:
    from churn_model import load_pipeline

    uri = f"models:/{NAME}/{registered.registered_model_version}"
    with pytest.warns(DeprecationWarning, match="use churn_model.load_model"):
        loaded = load_pipeline(uri)
    assert isinstance(loaded, LoadedChurnModel)
    assert loaded.config == load_model(uri).config


def test_download_model_refuses_a_model_that_is_not_a_churn_model(
    mlflow_store: str, tmp_path: Path
) -> None:
    from churn_model import download_model

    with mlflow.start_run():
        mlflow.log_text("not a model", "model/MLmodel")
        uri = mlflow.get_artifact_uri("model")
    with pytest.raises(ModelLoadError, match=r"is not a churn model.*Fix: point at"):
        download_model(uri, tmp_path)


def test_feature_spec_round_trips(registered: ModelInfo, spec: FeatureSpec, tmp_path: Path) -> None:
    assert load_feature_spec(f"models:/{NAME}/{registered.registered_model_version}") == spec
    assert load_feature_spec(registered.model_uri) == spec
    assert FeatureSpec.load(spec.save(tmp_path / "spec.json")) == spec
    assert json.loads((tmp_path / "spec.json").read_text())["lookups"][0]["lookup_key"] == [
        "customer_id"
    ]


def test_a_spec_that_misses_model_inputs_is_refused(trained: TrainResult) -> None:
    partial = FeatureSpec.for_table("churn_features", ["tenure"])
    with pytest.raises(FeatureSpecError, match="does not look up"):
        log_model(trained.pipeline, trained.config, feature_spec=partial)


def test_model_without_spec_says_so(mlflow_store: str, trained: TrainResult) -> None:
    with mlflow.start_run():
        info = log_model(trained.pipeline, trained.config, registered_model_name=f"{NAME}-nospec")
    assert load_model(info.model_uri).feature_spec is None
    with pytest.raises(FeatureSpecError, match="without a feature spec"):
        load_feature_spec(f"models:/{NAME}-nospec/1")


def test_missing_model_is_a_clear_error(mlflow_store: str) -> None:
    with pytest.raises(ModelLoadError, match=r"cannot load models:/no-such-model/3.*Fix"):
        load_model("models:/no-such-model/3")


def test_tampered_pipeline_with_an_untrusted_type_is_refused(
    registered: ModelInfo, trained: TrainResult, tmp_path: Path
) -> None:
    local = Path(mlflow.artifacts.download_artifacts(registered.model_uri, dst_path=str(tmp_path)))
    artifacts = local / "artifacts"
    # A FunctionTransformer wrapping a builtin is a classic skops attack surface; it is not ours.
    evil = trained.pipeline.__class__(
        [("payload", FunctionTransformer(func=print)), *trained.pipeline.steps]
    )
    skops.io.dump(evil, artifacts / PIPELINE_FILE)
    untrusted = skops.io.get_untrusted_types(file=artifacts / PIPELINE_FILE)
    assert "builtins.print" in untrusted
    with pytest.raises(UntrustedModelError, match=r"untrusted type\(s\) \['builtins.print'"):
        LoadedChurnModel.from_artifacts_dir(artifacts)
    # and the genuine file still loads through the same trusted-type path
    shutil.rmtree(artifacts)
    genuine = Path(
        mlflow.artifacts.download_artifacts(registered.model_uri, dst_path=str(tmp_path / "ok"))
    )
    assert load_pipeline_file(genuine / "artifacts" / PIPELINE_FILE) is not None


def test_a_file_replaced_after_a_trusted_load_is_audited_again(
    trained: TrainResult, tmp_path: Path
) -> None:
    """Loads remember audited bytes (serialization.py); the memory is keyed by content, so the
    same path with tampered bytes is refused, and each load is a pipeline of its own."""
    from churn_model.serialization import dump_pipeline

    path = dump_pipeline(trained.pipeline, tmp_path / PIPELINE_FILE)
    first, second = load_pipeline_file(path), load_pipeline_file(path)
    assert first is not second
    first.set_params(classifier__n_jobs=7)
    assert second.get_params()["classifier__n_jobs"] != 7
    rows = trained.X_test.head(50)
    np.testing.assert_array_equal(second.predict_proba(rows), trained.pipeline.predict_proba(rows))

    evil = trained.pipeline.__class__(
        [("payload", FunctionTransformer(func=print)), *trained.pipeline.steps]
    )
    skops.io.dump(evil, path)
    with pytest.raises(UntrustedModelError, match=r"untrusted type\(s\) \['builtins.print'"):
        load_pipeline_file(path)


def test_refuses_to_dump_a_pipeline_with_foreign_types(
    trained: TrainResult, tmp_path: Path
) -> None:
    from churn_model.serialization import dump_pipeline

    foreign = trained.pipeline.__class__(
        [("payload", FunctionTransformer(func=print)), *trained.pipeline.steps]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(UntrustedModelError, match="does not trust"):
            dump_pipeline(foreign, tmp_path / "p.skops")
    assert not (tmp_path / "p.skops").exists()


def test_importing_churn_model_does_not_import_mlflow_or_sklearn() -> None:
    code = (
        "import sys, churn_model, churn_model.mlflow_model, churn_model.config; "
        "heavy = sorted(m for m in ('mlflow', 'sklearn', 'pyspark') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
    after_train = subprocess.run(
        [sys.executable, "-c", "import sys, churn_model.training; print('mlflow' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert after_train == "False"


def test_a_model_logged_where_python_writes_bytecode_caches_loads(
    mlflow_store: str, trained: TrainResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow imports the model's code file from the folder it logs, to check the input example:
    Python would write ``__pycache__`` there (as on any machine without PYTHONDONTWRITEBYTECODE),
    a file the loader rightly refuses. Nothing but log_model's own files is logged."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    with mlflow.start_run():
        info = log_model(trained.pipeline, trained.config, input_example=trained.X_train)
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri))
    assert not [p.relative_to(local) for p in local.rglob("__pycache__")]
    assert load_model(info.model_uri).threshold == trained.config.threshold
    assert sys.dont_write_bytecode is False, "the caller's setting is restored"
