"""The Model Serving endpoint of an environment, as ``deploy`` plans and applies it.

An environment declares it in ``databricks.serving`` (name default ``<env>-churn-serving``,
workload size, scale-to-zero, AI-gateway inference-table capture into the environment's schema).
It serves the Unity Catalog model's champion, and Databricks Model Serving looks the features up
itself from the model's feature spec in the Lakebase online store that ``feature-publish`` fills.

``plan_endpoint`` compares the workspace with the declaration: create / update / unchanged, or
skip while the model has no champion (an endpoint cannot be created without a version to serve;
the first promotion's ``follow_champion`` in model-deployment creates it). ``apply_endpoint``
carries the plan out without waiting for the endpoint to become ready. The calls themselves are
churn-jobs' (``churn_jobs.serving_endpoint``), the one owner the deployment chain also uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from churn_jobs.serving_endpoint import (
    ServingEndpoint,
    ai_gateway,
    create_endpoint,
    point_endpoint_at,
    served_entities,
)
from churn_jobs.serving_endpoint import (
    follow_champion as follow_in_jobs,
)
from churn_registry_ops.tags import CHAMPION_ALIAS

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from churn_jobs.serving_endpoint import EndpointUpdate
    from churn_jobs.settings import RuntimeSettings

Action = Literal["create", "update", "unchanged", "skip"]


@dataclass(frozen=True)
class EndpointPlan:
    name: str
    action: Action
    reason: str
    current_version: str | None = None
    target_version: str | None = None
    changes: tuple[str, ...] = ()
    """What an update changes, e.g. ``version 3 -> 4``, ``workload_size Small -> Medium``."""

    @property
    def settings_change(self) -> bool:
        """More than the served version changes (size, scale-to-zero or capture)."""
        return any(not c.startswith("version ") for c in self.changes)

    def describe(self) -> str:
        """One line for ``deploy`` and ``deploy --dry-run``."""
        if self.action == "update":
            return f"serving endpoint {self.name}: update {'; '.join(self.changes)}"
        if self.action == "create":
            return f"serving endpoint {self.name}: create, serving version {self.target_version}"
        return f"serving endpoint {self.name}: {self.action}: {self.reason}"


def champion_version(client: WorkspaceClient, model_name: str) -> str | None:
    """The version the Unity Catalog model's champion alias points at; None without one (or
    without the model: nothing has been registered yet)."""
    from databricks.sdk.errors import NotFound

    try:
        found = client.model_versions.get_by_alias(model_name, CHAMPION_ALIAS)
    except NotFound:
        return None
    return str(found.version) if found.version is not None else None


def plan_endpoint(
    client: WorkspaceClient,
    endpoint: ServingEndpoint,
    runtime: RuntimeSettings,
    champion: str | None,
) -> EndpointPlan:
    """Read-only: what deploy would do to the endpoint."""
    from databricks.sdk.errors import NotFound

    name = endpoint.name
    if champion is None:
        return EndpointPlan(
            name,
            "skip",
            f"no champion of {runtime.registered_model_name} yet; model-deployment (or `churn "
            "promote`) creates it after the first promotion",
        )
    try:
        current = client.serving_endpoints.get(name)
    except NotFound:
        return EndpointPlan(name, "create", "no such endpoint", None, champion)
    entities = (current.config.served_entities if current.config else None) or []
    ours = [e for e in entities if e.entity_name == runtime.registered_model_name]
    versions = ",".join(sorted({str(e.entity_version) for e in ours if e.entity_version}))
    changes = [] if versions == champion else [f"version {versions or 'none'} -> {champion}"]
    if ours:
        served = ours[0]
        if served.workload_size != endpoint.workload_size:
            changes.append(f"workload_size {served.workload_size} -> {endpoint.workload_size}")
        if bool(served.scale_to_zero_enabled) != endpoint.scale_to_zero:
            changes.append(
                f"scale_to_zero {served.scale_to_zero_enabled} -> {endpoint.scale_to_zero}"
            )
    table = current.ai_gateway.inference_table_config if current.ai_gateway else None
    captured = bool(table and table.enabled)
    if captured != endpoint.capture:
        changes.append(f"capture {_on(captured)} -> {_on(endpoint.capture)}")
    if not changes:
        return EndpointPlan(name, "unchanged", f"serves version {champion}", champion, champion)
    return EndpointPlan(
        name, "update", "differs from the declaration", versions or None, champion, tuple(changes)
    )


def apply_endpoint(
    client: WorkspaceClient,
    plan: EndpointPlan,
    endpoint: ServingEndpoint,
    runtime: RuntimeSettings,
) -> str:
    """Carry ``plan`` out; returns what was done (for deploy's log)."""
    if plan.action in ("skip", "unchanged"):
        return plan.action
    assert plan.target_version is not None
    model = runtime.registered_model_name
    if plan.action == "create":
        create_endpoint(client, endpoint, runtime, plan.target_version)
        return "created"
    if not plan.settings_change:
        return point_endpoint_at(client, plan.name, model, plan.target_version).describe()
    # the declared settings replace the served entity (and the capture setting, if it changed)
    client.serving_endpoints.update_config(
        plan.name, served_entities=served_entities(endpoint, model, plan.target_version)
    )
    if any(c.startswith("capture ") for c in plan.changes):
        from databricks.sdk.service.serving import AiGatewayInferenceTableConfig

        gateway = ai_gateway(endpoint, runtime)
        client.serving_endpoints.put_ai_gateway(
            plan.name,
            inference_table_config=(
                gateway.inference_table_config
                if gateway
                else AiGatewayInferenceTableConfig(enabled=False)
            ),
        )
    return "updated"


def follow_champion(
    client: WorkspaceClient, endpoint: ServingEndpoint, runtime: RuntimeSettings, champion: str
) -> EndpointUpdate:
    """After a promotion or rollback: the endpoint serves ``champion`` (churn-jobs' call)."""
    return follow_in_jobs(runtime, endpoint, champion, client=client)


def _on(flag: bool) -> str:
    return "on" if flag else "off"
