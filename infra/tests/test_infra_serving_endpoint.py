"""The environment's Model Serving endpoint, driven by the real databricks-sdk against the FAKE."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue
from fake_serving import FakeServingWorkspace

from churn_infra.serving_endpoint import (
    EndpointSettings,
    apply_endpoint,
    endpoint_name,
    follow_champion,
    plan_endpoint,
)

MODEL = "churn_prod.churn.churn_model"


@pytest.fixture
def serving() -> Iterator[FakeServingWorkspace]:
    with FakeServingWorkspace() as fake:
        yield fake


@pytest.fixture
def workspace(serving: FakeServingWorkspace) -> WorkspaceClient:
    return WorkspaceClient(host=serving.host, token=serving.token)


def follow(workspace: WorkspaceClient, version: str | None, env: str = "prod"):  # type: ignore[no-untyped-def]
    return follow_champion(
        workspace,
        env,
        model_name=MODEL,
        champion_version=version,
        catalog="churn_prod",
        schema="churn",
    )


def test_no_champion_no_endpoint(workspace: WorkspaceClient, serving: FakeServingWorkspace) -> None:
    plan = follow(workspace, None)
    assert plan.action == "skip"
    assert "no champion" in plan.describe()
    assert serving.endpoints == {}


def test_created_with_the_champion_then_follows_promotions_and_rollbacks(
    workspace: WorkspaceClient, serving: FakeServingWorkspace
) -> None:
    created = follow(workspace, "3")
    assert created.action == "create"
    endpoint = serving.endpoints["prod-churn-serving"]
    (entity,) = endpoint["config"]["served_entities"]
    assert entity == {
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
    assert follow(workspace, "3").action == "unchanged"

    promoted = follow(workspace, "4")
    assert (promoted.action, promoted.current_version, promoted.target_version) == (
        "update",
        "3",
        "4",
    )
    assert "3 -> 4" in promoted.describe()
    assert (
        serving.endpoints["prod-churn-serving"]["config"]["served_entities"][0]["entity_version"]
        == "4"
    )
    rolled_back = follow(workspace, "3")
    assert rolled_back.action == "update"
    assert len(serving.endpoints) == 1  # updated in place, never a duplicate


def test_dev_scales_to_zero(workspace: WorkspaceClient, serving: FakeServingWorkspace) -> None:
    follow(workspace, "1", env="dev")
    entity = serving.endpoints[endpoint_name("dev")]["config"]["served_entities"][0]
    assert entity["scale_to_zero_enabled"] is True


def test_the_fake_rejects_what_the_api_rejects(workspace: WorkspaceClient) -> None:
    plan = plan_endpoint(workspace, "bad name!", "1")
    with pytest.raises(InvalidParameterValue, match="Invalid endpoint name"):
        apply_endpoint(
            workspace,
            plan,
            model_name=MODEL,
            catalog="c",
            schema="s",
            settings=EndpointSettings(),
        )
    odd = EndpointSettings(workload_size="Huge")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue, match="workload_size"):
        apply_endpoint(
            workspace,
            plan_endpoint(workspace, "prod-churn-serving", "1"),
            model_name=MODEL,
            catalog="c",
            schema="s",
            settings=odd,
        )
