"""The Model Serving endpoint of an environment (databricks-sdk ``serving_endpoints``).

One endpoint per environment, ``<env>-churn-serving``, serving the Unity Catalog model's champion
version, with the environment's workload size and scale-to-zero, and AI-gateway inference-table
capture into the environment's schema (the Databricks twin of churn-serving's inference log).
Databricks Model Serving looks the features up itself from the model's feature spec in the
Lakebase online store that ``feature-publish`` fills.

``plan_endpoint`` compares the workspace with the target (create / update / unchanged, or skip
while there is no champion: an endpoint cannot be created without a version to serve);
``apply_endpoint`` carries the plan out without waiting for the endpoint to become ready.
After a promotion or a rollback, ``follow_champion`` points the endpoint at the new champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import AiGatewayConfig, ServedEntityInput

WorkloadSize = Literal["Small", "Medium", "Large"]
Action = Literal["create", "update", "unchanged", "skip"]


@dataclass(frozen=True)
class EndpointSettings:
    """Per environment: how big, whether it may scale to zero, whether requests are captured."""

    workload_size: WorkloadSize = "Small"
    scale_to_zero: bool = True
    capture_inference_table: bool = True


#: prod keeps capacity warm; dev and staging scale to zero when idle
DEFAULT_SETTINGS = {
    "dev": EndpointSettings(),
    "staging": EndpointSettings(),
    "prod": EndpointSettings(workload_size="Small", scale_to_zero=False),
}


def endpoint_name(environment: str) -> str:
    return f"{environment}-churn-serving"


@dataclass(frozen=True)
class EndpointPlan:
    name: str
    action: Action
    reason: str
    current_version: str | None = None
    target_version: str | None = None

    def describe(self) -> str:
        """One line for ``deploy --dry-run``."""
        if self.action == "update":
            return (
                f"serving endpoint {self.name}: update served version "
                f"{self.current_version} -> {self.target_version}"
            )
        if self.action == "create":
            return f"serving endpoint {self.name}: create, serving version {self.target_version}"
        return f"serving endpoint {self.name}: {self.action} ({self.reason})"


def served_entities(
    model_name: str, version: str, settings: EndpointSettings
) -> list[ServedEntityInput]:
    from databricks.sdk.service.serving import ServedEntityInput

    return [
        ServedEntityInput(
            entity_name=model_name,
            entity_version=version,
            workload_size=settings.workload_size,
            scale_to_zero_enabled=settings.scale_to_zero,
        )
    ]


def ai_gateway(catalog: str, schema: str, settings: EndpointSettings) -> AiGatewayConfig | None:
    from databricks.sdk.service.serving import AiGatewayConfig, AiGatewayInferenceTableConfig

    if not settings.capture_inference_table:
        return None
    return AiGatewayConfig(
        inference_table_config=AiGatewayInferenceTableConfig(
            catalog_name=catalog,
            schema_name=schema,
            table_name_prefix="churn_serving",
            enabled=True,
        )
    )


def plan_endpoint(client: WorkspaceClient, name: str, champion_version: str | None) -> EndpointPlan:
    from databricks.sdk.errors import NotFound

    if champion_version is None:
        return EndpointPlan(
            name, "skip", "the model has no champion yet; deploy again after a promotion"
        )
    try:
        current = client.serving_endpoints.get(name)
    except NotFound:
        return EndpointPlan(name, "create", "no such endpoint", None, champion_version)
    entities = (current.config.served_entities if current.config else None) or []
    versions = sorted({str(e.entity_version) for e in entities if e.entity_version})
    if versions == [champion_version]:
        return EndpointPlan(
            name,
            "unchanged",
            f"serves version {champion_version}",
            champion_version,
            champion_version,
        )
    return EndpointPlan(
        name, "update", "the champion changed", ",".join(versions) or None, champion_version
    )


def apply_endpoint(
    client: WorkspaceClient,
    plan: EndpointPlan,
    *,
    model_name: str,
    catalog: str,
    schema: str,
    settings: EndpointSettings,
) -> None:
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    if plan.action in ("skip", "unchanged"):
        return
    assert plan.target_version is not None
    entities = served_entities(model_name, plan.target_version, settings)
    if plan.action == "create":
        client.serving_endpoints.create(
            plan.name,
            config=EndpointCoreConfigInput(name=plan.name, served_entities=entities),
            ai_gateway=ai_gateway(catalog, schema, settings),
        )
    else:
        client.serving_endpoints.update_config(plan.name, served_entities=entities)


def follow_champion(
    client: WorkspaceClient,
    environment: str,
    *,
    model_name: str,
    champion_version: str | None,
    catalog: str,
    schema: str,
    settings: EndpointSettings | None = None,
) -> EndpointPlan:
    """After a promotion or rollback: make the endpoint serve ``champion_version``."""
    name = endpoint_name(environment)
    plan = plan_endpoint(client, name, champion_version)
    apply_endpoint(
        client,
        plan,
        model_name=model_name,
        catalog=catalog,
        schema=schema,
        settings=settings or DEFAULT_SETTINGS.get(environment, EndpointSettings()),
    )
    return plan
