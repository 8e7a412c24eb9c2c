import json
from pathlib import Path

import pytest

from churn_jobs import environments
from churn_jobs.errors import UserError
from churn_jobs.request import JobRequest, parse_request
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


def test_without_an_environment_loader_env_names_are_one_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the job wheel alone (as on a cluster): no distribution registers `churn.environments`
    monkeypatch.setattr(environments, "entry_points", lambda group: [])
    with pytest.raises(UserError, match="No environment loader is installed") as caught:
        environments.load_runtime_settings("local")
    assert "--settings-json" in str(caught.value)


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


def test_unknown_job_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="Unknown job 'model-trian'"):
        job_module("model-trian")


def test_an_mlflow_failure_in_a_churn_command_is_one_message_and_exit_1() -> None:
    from mlflow.exceptions import MlflowException
    from rich.console import Console

    from churn_jobs.runner import exit_on_user_error

    console = Console(record=True, width=200)
    with pytest.raises(SystemExit) as caught, exit_on_user_error(console):
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: experiment 7 is gone")
    assert caught.value.code == 1
    text = console.export_text()
    assert "an MLflow request failed: RESOURCE_DOES_NOT_EXIST" in text
    assert "rerun" in text


def test_off_cluster_mlflow_uses_the_environments_profile(runtime: RuntimeSettings) -> None:
    from churn_jobs.context import tracking_uris

    uc = runtime.model_copy(
        update={
            "platform": "databricks",
            "catalog": "churn_prod",
            "workspace_profile": "churn-prod",
            "registered_model_name": "churn_prod.churn.m",
            "experiment": "/Shared/churn/prod",
        }
    )
    assert tracking_uris(uc, on_cluster=False) == (
        "databricks://churn-prod",
        "databricks-uc://churn-prod",
    )
    # on a cluster, the cluster's own workspace
    assert tracking_uris(uc, on_cluster=True) == ("databricks", "databricks-uc")
    legacy = uc.model_copy(update={"catalog": None, "registered_model_name": "m"})
    assert tracking_uris(legacy, on_cluster=False)[1] == "databricks://churn-prod"


def test_jobs_on_databricks_check_their_schema_instead_of_creating_it(
    runtime: RuntimeSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.sql import SparkSession

    from churn_jobs.context import require_schema

    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    # pyspark's builder keeps the options of every earlier build in this process: an earlier
    # module's Hive metastore (of its CHURN_HOME) would otherwise come along
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    missing = runtime.model_copy(update={"schema_name": "churn_not_created", "environment": "prod"})
    with pytest.raises(UserError) as caught:
        require_schema(spark, missing)
    message = str(caught.value)
    assert "Schema churn_not_created does not exist" in message
    assert "churn-infra deploy prod" in message
    assert "USE SCHEMA" in message
    assert not spark.catalog.databaseExists("churn_not_created")  # checked, never created
    require_schema(spark, runtime.model_copy(update={"schema_name": "default"}))
