import json
from pathlib import Path

import pytest

from churn_jobs.environments import load_runtime_settings, params_file
from churn_jobs.errors import UserError
from churn_jobs.request import JobRequest, parse_request, request_from_files, validate_params
from churn_jobs.runner import job_module, run_job, user_error_types
from churn_jobs.settings import RuntimeSettings


def test_request_round_trips_through_json(runtime: RuntimeSettings) -> None:
    request = JobRequest(runtime=runtime, params={"seed": 3})
    assert parse_request(request.to_json()) == request


def test_bad_json_and_unknown_keys_are_clear_errors(runtime: RuntimeSettings) -> None:
    with pytest.raises(UserError, match="not valid JSON"):
        parse_request("{nope")
    payload = json.loads(JobRequest(runtime=runtime).to_json())
    payload["runtime"]["shcema"] = "typo"
    with pytest.raises(UserError, match=r"runtime\.shcema: Extra inputs are not permitted"):
        parse_request(payload)


def test_every_environment_file_has_valid_runtime_settings(infra_dir: Path) -> None:
    for path in sorted((infra_dir / "environments").glob("*.yaml")):
        settings = load_runtime_settings(path.stem, infra_dir)
        assert settings.environment == path.stem


def test_unknown_environment_names_the_known_ones(infra_dir: Path) -> None:
    with pytest.raises(UserError, match=r"Unknown environment 'nope' \(known: .*local"):
        load_runtime_settings("nope", infra_dir)


def test_params_override_per_environment(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "params" / "prod").mkdir(parents=True)
    (tmp_path / "params" / "model-train.yaml").write_text("a: 1\n")
    (tmp_path / "params" / "prod" / "model-train.yaml").write_text("a: 2\n")
    assert params_file("model-train", "dev", tmp_path).parent == tmp_path / "params"
    assert params_file("model-train", "prod", tmp_path).parent == tmp_path / "params" / "prod"


@pytest.mark.parametrize(
    ("job", "params", "message"),
    [
        ("feature-table-refresh", {"max_bad_fraction": 2}, "max_bad_fraction"),
        ("feature-table-refresh", {"sorce": "x.csv"}, "sorce"),
        ("model-train", {"model": {"estimator": {"kind": "random_forest", "depth": 3}}}, "depth"),
        (
            "model-train",
            {"model": {"estimator": {"kind": "random_forest", "max_features": "auto"}}},
            "auto",
        ),
        ("model-deployment", {"rule": {"metric": "accuracy_at_k"}}, "metric"),
        ("model-inference-batch", {"write_mode": "upsert"}, "write_mode"),
    ],
)
def test_bad_task_parameters_fail_before_any_work(
    runtime: RuntimeSettings, job: str, params: dict, message: str, tmp_path: Path
) -> None:
    # run_job validates parameters before it builds a SparkSession or touches MLflow
    with pytest.raises(user_error_types(), match=message):
        run_job(job, JobRequest(runtime=runtime, params=params), home=tmp_path)
    assert not (tmp_path / "mlflow.db").exists()
    assert not (tmp_path / "spark-warehouse").exists()


def test_shipped_params_files_are_valid(infra_dir: Path) -> None:
    for path in sorted((infra_dir / "params").glob("*.yaml")):
        job = path.stem.removesuffix("-depth8")
        request = request_from_files(job, "local", path, infra_dir)
        validate_params(job_module(job).Params, request.params, str(path))


def test_unknown_job_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="Unknown job 'model-trian'"):
        job_module("model-trian")
