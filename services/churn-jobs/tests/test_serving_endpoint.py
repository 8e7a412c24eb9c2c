"""The serving endpoint follows promotions and rollbacks on Databricks: churn_jobs.serving_endpoint
driven by the real databricks-sdk against the FAKE workspace (infra/tests/fake_serving.py), and
the registry changes against a real local MLflow registry (SQLite under a tmp CHURN_HOME)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.serving import (
    EndpointCoreConfigInput,
    Route,
    ServedEntityInput,
    TrafficConfig,
)
from fake_serving import FakeServingWorkspace
from fake_workspace import Fault
from typer.testing import CliRunner, Result

from churn_jobs.cli import app
from churn_jobs.context import JobContext
from churn_jobs.environments import load_runtime_settings
from churn_jobs.jobs.model_deployment import ENDPOINT_TAG, Params, follow_endpoint
from churn_jobs.registry_access import registry
from churn_jobs.serving_endpoint import (
    EndpointUpdateError,
    ServingEndpoint,
    follow_champion,
    point_endpoint_at,
)
from churn_jobs.settings import RuntimeSettings
from churn_registry_ops.sanity import CheckResult, SanityReport

REPO = Path(__file__).resolve().parents[3]
MODEL = "churn_model"  # the local environment's model
ENDPOINT = ServingEndpoint(name="local-churn-serving")


@pytest.fixture
def fake(fake_workspace: FakeServingWorkspace) -> FakeServingWorkspace:
    """The fake workspace with versions 1-3 of the local model."""
    for version in (1, 2, 3):
        fake_workspace.add_model_version(MODEL, version)
    return fake_workspace


@pytest.fixture
def client(fake: FakeServingWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=fake.host, token=fake.token)


def test_only_the_version_changes(fake: FakeServingWorkspace, client: WorkspaceClient) -> None:
    client.serving_endpoints.create(
        "tuned",
        config=EndpointCoreConfigInput(
            name="tuned",
            served_entities=[
                ServedEntityInput(
                    name="champion",
                    entity_name=MODEL,
                    entity_version="1",
                    workload_size="Medium",
                    scale_to_zero_enabled=False,
                    environment_vars={"CHURN_LOG_LEVEL": "debug"},
                )
            ],
            traffic_config=TrafficConfig(
                routes=[Route(served_model_name="champion", traffic_percentage=100)]
            ),
        ),
    )
    update = point_endpoint_at(client, "tuned", MODEL, "2")
    assert (update.previous_versions, update.version, update.changed) == (("1",), "2", True)
    (entity,) = fake.endpoints["tuned"]["config"]["served_entities"]
    assert entity == {
        "name": "champion",
        "entity_name": MODEL,
        "entity_version": "2",
        "workload_size": "Medium",
        "scale_to_zero_enabled": False,
        "environment_vars": {"CHURN_LOG_LEVEL": "debug"},
    }
    routes = fake.endpoints["tuned"]["config"]["traffic_config"]["routes"]
    assert routes == [{"served_model_name": "champion", "traffic_percentage": 100}]
    requests = len(fake.requests)
    assert not point_endpoint_at(client, "tuned", MODEL, "2").changed
    assert [r.method for r in fake.requests[requests:]] == ["GET"]  # nothing to change


def test_an_endpoint_of_another_model_is_refused(
    fake: FakeServingWorkspace, client: WorkspaceClient
) -> None:
    fake.add_model_version("other_model", 1)
    runtime = _runtime("other_model")
    follow_champion(runtime, ServingEndpoint(name="other"), "1", client=client)
    with pytest.raises(EndpointUpdateError, match=r"serves other_model, not churn_model"):
        point_endpoint_at(client, "other", MODEL, "2")
    assert fake.served_version("other") == "1"


def _runtime(model: str = MODEL) -> RuntimeSettings:
    return RuntimeSettings(environment="test", experiment="t", registered_model_name=model)


def test_a_failed_update_is_tagged_on_the_decision_run_and_raised(
    fake: FakeServingWorkspace, tmp_path: Path
) -> None:
    import mlflow

    ctx = JobContext(runtime=load_runtime_settings("local", REPO / "infra"), home=tmp_path)
    ctx.mlflow  # noqa: B018  (configures the local tracking store)
    ctx.use_experiment()
    params = Params(serving_endpoint=ENDPOINT)
    with mlflow.start_run() as run:
        pass
    run_id = run.info.run_id
    follow_endpoint(ctx, params, run_id, "1")  # no endpoint yet: created on the first champion
    assert fake.served_version("local-churn-serving") == "1"
    tags = ctx.mlflow.get_run(run_id).data.tags
    assert tags[ENDPOINT_TAG] == "serving endpoint local-churn-serving: created, serving v1"

    fake.inject(
        Fault("PUT", "/serving-endpoints/local-churn-serving/config", 403, "PERMISSION_DENIED")
    )
    with pytest.raises(EndpointUpdateError) as failed:
        follow_endpoint(ctx, params, run_id, "2")
    assert "is now v2 (that change stands)" in str(failed.value)
    assert "churn-infra deploy local" in str(failed.value)
    tag = ctx.mlflow.get_run(run_id).data.tags[ENDPOINT_TAG]
    assert tag.startswith("failed: The champion of churn_model is now v2")
    assert "PermissionDenied" in tag
    assert fake.served_version("local-churn-serving") == "1"
    follow_endpoint(ctx, Params(), run_id, "2")  # no endpoint configured (locally): nothing
    assert fake.served_version("local-churn-serving") == "1"


# -- `churn promote` / `churn rollback` on an environment with an endpoint ---------------------


@pytest.fixture
def infra_with_endpoint(tmp_path: Path) -> Path:
    """The repository's infra/, with model-deployment's serving_endpoint set for local (as
    churn-infra derives it from databricks.serving for a Databricks environment)."""
    infra = tmp_path / "infra"
    shutil.copytree(REPO / "infra" / "environments", infra / "environments")
    shutil.copytree(REPO / "infra" / "params", infra / "params")
    params = yaml.safe_load((infra / "params" / "model-deployment.yaml").read_text())
    params["serving_endpoint"] = ENDPOINT.model_dump()
    (infra / "params" / "local").mkdir(exist_ok=True)
    (infra / "params" / "local" / "model-deployment.yaml").write_text(yaml.safe_dump(params))
    return infra


@pytest.fixture
def home(tmp_path: Path, infra_with_endpoint: Path) -> Path:
    """A local registry with versions 1, 2 and 3 validated."""
    home = tmp_path / "churn-home"
    reg = registry(
        JobContext(runtime=load_runtime_settings("local", infra_with_endpoint), home=home)
    )
    source = home / "model-files"
    source.mkdir(parents=True)
    reg.client.create_registered_model(reg.model_name)
    for _ in range(3):
        version = reg.client.create_model_version(reg.model_name, source.as_uri()).version
        check = CheckResult(name="signature", passed=True, detail="test")
        reg.record_validation(version, SanityReport(model_uri="test", checks=[check]))
    return home


def churn(home: Path, infra: Path, *args: str) -> Result:
    env = {"CHURN_HOME": str(home), "CHURN_INFRA_DIR": str(infra)}
    return CliRunner().invoke(app, list(args), env=env)


def test_promote_and_rollback_bring_the_endpoint_along(
    fake: FakeServingWorkspace, home: Path, infra_with_endpoint: Path
) -> None:
    first = churn(home, infra_with_endpoint, "promote", "--version", "1")
    assert first.exit_code == 0, first.output
    assert "serving endpoint local-churn-serving: created, serving v1" in first.output
    second = churn(home, infra_with_endpoint, "promote", "--version", "2")
    assert second.exit_code == 0, second.output
    assert "serving endpoint local-churn-serving: v1 -> v2" in second.output
    assert fake.served_version("local-churn-serving") == "2"

    back = churn(home, infra_with_endpoint, "rollback")
    assert back.exit_code == 0, back.output
    assert "serving endpoint local-churn-serving: v2 -> v1" in back.output
    assert fake.served_version("local-churn-serving") == "1"

    fake.inject(Fault("PUT", "/config", 403, "PERMISSION_DENIED", "no CAN_MANAGE on it"))
    failed = churn(home, infra_with_endpoint, "promote", "--version", "3")
    assert failed.exit_code == 2, failed.output
    assert "Traceback" not in failed.output
    assert "champion of churn_model is now v3 (that change stands)" in failed.output
    assert "no CAN_MANAGE on it" in failed.output
    state = registry(
        JobContext(runtime=load_runtime_settings("local", infra_with_endpoint), home=home)
    ).state()
    assert state.champion == "3"  # the promotion is not undone
    assert fake.served_version("local-churn-serving") == "1"


def test_without_an_endpoint_nothing_is_called(fake: FakeServingWorkspace, tmp_path: Path) -> None:
    """The shipped local environment has none: churn-serving follows promotions by polling."""
    infra = tmp_path / "infra"
    shutil.copytree(REPO / "infra" / "environments", infra / "environments")
    shutil.copytree(REPO / "infra" / "params", infra / "params")
    home = tmp_path / "home"
    reg = registry(JobContext(runtime=load_runtime_settings("local", infra), home=home))
    (home / "m").mkdir(parents=True)
    reg.client.create_registered_model(reg.model_name)
    version = reg.client.create_model_version(reg.model_name, (home / "m").as_uri()).version
    check = CheckResult(name="signature", passed=True, detail="test")
    reg.record_validation(version, SanityReport(model_uri="test", checks=[check]))
    done = churn(home, infra, "promote", "--version", "1")
    assert done.exit_code == 0, done.output
    assert fake.requests == []
