"""The environment's Model Serving endpoint, driven by the real databricks-sdk against the FAKE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue, NotFound, ResourceAlreadyExists
from fake_serving import FakeServingWorkspace

from churn_infra.serving_endpoint import (
    EndpointPlan,
    apply_endpoint,
    champion_version,
    follow_champion,
    plan_endpoint,
)
from churn_jobs.serving_endpoint import ServingEndpoint, create_endpoint
from churn_jobs.settings import RuntimeSettings

MODEL = "churn_prod.churn.churn_model"
RUNTIME = RuntimeSettings(
    environment="prod",
    platform="databricks",
    catalog="churn_prod",
    schema="churn",
    experiment="/Shared/churn/prod",
    registered_model_name=MODEL,
)
PROD = ServingEndpoint(name="prod-churn-serving", scale_to_zero=False)


@pytest.fixture
def serving() -> Iterator[FakeServingWorkspace]:
    with FakeServingWorkspace() as fake:
        for version in ("3", "4"):
            fake.add_model_version(MODEL, version)
        yield fake


@pytest.fixture
def workspace(serving: FakeServingWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=serving.host, token=serving.token)


def deploy_plan(workspace: WorkspaceClient, endpoint: ServingEndpoint = PROD) -> EndpointPlan:
    plan = plan_endpoint(workspace, endpoint, RUNTIME, champion_version(workspace, MODEL))
    apply_endpoint(workspace, plan, endpoint, RUNTIME)
    return plan


def test_no_champion_no_endpoint(workspace: WorkspaceClient, serving: FakeServingWorkspace) -> None:
    assert champion_version(workspace, "churn_prod.churn.never_registered") is None
    plan = deploy_plan(workspace)
    assert plan.action == "skip"
    assert "no champion" in plan.describe()
    assert "after the first promotion" in plan.describe()
    assert serving.endpoints == {}


def test_created_with_the_champion_then_follows_promotions_and_rollbacks(
    workspace: WorkspaceClient, serving: FakeServingWorkspace
) -> None:
    serving.add_model_version(MODEL, "3", champion=True)
    created = deploy_plan(workspace)
    assert created.action == "create"
    endpoint = serving.endpoints["prod-churn-serving"]
    (entity,) = endpoint["config"]["served_entities"]
    assert entity == {
        "name": "champion",
        "entity_name": MODEL,
        "entity_version": "3",
        "workload_size": "Small",
        "scale_to_zero_enabled": False,  # prod stays warm
    }
    capture = endpoint["ai_gateway"]["inference_table_config"]
    assert capture == {
        "catalog_name": "churn_prod",
        "schema_name": "churn",
        "table_name_prefix": "churn_serving",
        "enabled": True,
    }
    assert deploy_plan(workspace).action == "unchanged"

    promoted = follow_champion(workspace, PROD, RUNTIME, "4")
    assert (promoted.previous_versions, promoted.version) == (("3",), "4")
    assert "v3 -> v4" in promoted.describe()
    assert serving.served_version("prod-churn-serving") == "4"
    # the deploy after it sees the endpoint on v4 while the alias still says 3: it plans it back
    replan = plan_endpoint(workspace, PROD, RUNTIME, champion_version(workspace, MODEL))
    assert (replan.action, replan.changes) == ("update", ("version 4 -> 3",))
    rolled_back = follow_champion(workspace, PROD, RUNTIME, "3")
    assert rolled_back.changed
    assert serving.served_version("prod-churn-serving") == "3"
    assert len(serving.endpoints) == 1  # updated in place, never a duplicate


def test_a_settings_change_is_planned_and_applied(
    workspace: WorkspaceClient, serving: FakeServingWorkspace
) -> None:
    serving.add_model_version(MODEL, "3", champion=True)
    deploy_plan(workspace)
    bigger = PROD.model_copy(update={"workload_size": "Medium", "capture": False})
    plan = plan_endpoint(workspace, bigger, RUNTIME, "3")
    assert plan.action == "update"
    assert plan.changes == ("workload_size Small -> Medium", "capture on -> off")
    apply_endpoint(workspace, plan, bigger, RUNTIME)
    endpoint = serving.endpoints["prod-churn-serving"]
    assert endpoint["config"]["served_entities"][0]["workload_size"] == "Medium"
    assert endpoint["ai_gateway"]["inference_table_config"]["enabled"] is False
    assert plan_endpoint(workspace, bigger, RUNTIME, "3").action == "unchanged"


def test_dev_scales_to_zero(workspace: WorkspaceClient, serving: FakeServingWorkspace) -> None:
    serving.add_model_version(MODEL, "3", champion=True)
    deploy_plan(workspace, ServingEndpoint(name="dev-churn-serving"))
    entity = serving.endpoints["dev-churn-serving"]["config"]["served_entities"][0]
    assert entity["scale_to_zero_enabled"] is True


def test_the_fake_rejects_what_the_api_rejects(
    workspace: WorkspaceClient, serving: FakeServingWorkspace
) -> None:
    with pytest.raises(NotFound, match=r"Model version 9 of .* does not exist"):
        create_endpoint(workspace, PROD, RUNTIME, "9")
    create_endpoint(workspace, PROD, RUNTIME, "3")
    with pytest.raises(ResourceAlreadyExists, match="already exists"):
        create_endpoint(workspace, PROD, RUNTIME, "3")
    with pytest.raises(NotFound, match="Model version 9"):
        workspace.serving_endpoints.update_config(
            "prod-churn-serving",
            served_entities=[
                e.__class__.from_dict({**e.as_dict(), "entity_version": "9"})
                for e in _served(workspace)
            ],
        )
    bad_name = PROD.model_construct(name="bad name!", workload_size="Small", scale_to_zero=True)
    with pytest.raises(InvalidParameterValue, match="Invalid endpoint name"):
        create_endpoint(workspace, bad_name, RUNTIME, "3")
    odd = PROD.model_construct(name="odd", workload_size="Huge", scale_to_zero=True, capture=True)
    with pytest.raises(InvalidParameterValue, match="workload_size"):
        create_endpoint(workspace, odd, RUNTIME, "3")
    assert serving.served_version("prod-churn-serving") == "3"


def _served(workspace: WorkspaceClient):  # type: ignore[no-untyped-def]
    from databricks.sdk.service.serving import ServedEntityInput

    config = workspace.serving_endpoints.get("prod-churn-serving").config
    assert config is not None
    return [ServedEntityInput.from_dict(e.as_dict()) for e in config.served_entities or []]
