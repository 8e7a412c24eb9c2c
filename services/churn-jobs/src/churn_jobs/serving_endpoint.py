"""The Databricks Model Serving endpoint that serves the champion: the one owner of its calls.

On Databricks, ``model-deployment`` (after a promotion), ``churn promote`` and ``churn rollback``
call ``follow_champion`` with model-deployment's ``serving_endpoint`` parameter (set by
churn-infra per environment from its ``databricks.serving`` section; null locally, where
churn-serving follows promotions by polling the registry): the endpoint is created serving the
champion if it does not exist yet, else pointed at it. churn-infra's deploy plans the endpoint
and reuses ``create_endpoint`` and ``point_endpoint_at`` rather than repeating them.

Only the served version changes: every other setting of every served entity (its name, workload
size, scale-to-zero, environment variables, ...) and the traffic split are sent back as the
endpoint reports them (``update_config`` replaces the whole served-entity list).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from churn_jobs.errors import UserError
from churn_jobs.settings import StrictModel

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.service.serving import (
        AiGatewayConfig,
        ServedEntityInput,
        ServedEntityOutput,
    )

    from churn_jobs.settings import RuntimeSettings

#: the served entity's name: a stable route label while the version behind it changes
SERVED_ENTITY_NAME = "champion"
#: inference tables are <catalog>.<schema>.<prefix>_payload (AI gateway inference table config)
INFERENCE_TABLE_PREFIX = "churn_serving"


class ServingEndpoint(StrictModel):
    """An environment's endpoint: its name, size, scale-to-zero and request capture."""

    # "alphanumeric characters, dashes, and underscores" (serving endpoints create reference,
    # https://docs.databricks.com/api/workspace/servingendpoints/create)
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,63}$")
    workload_size: Literal["Small", "Medium", "Large"] = "Small"
    scale_to_zero: bool = Field(
        default=True, description="Scale to zero when idle (cold starts); false keeps it warm."
    )
    capture: bool = Field(
        default=True,
        description="AI-gateway inference table in the environment's schema (requests and "
        "responses, monitored like batch predictions).",
    )


def served_entities(
    endpoint: ServingEndpoint, model_name: str, version: str
) -> list[ServedEntityInput]:
    """The declared served entity: ``version`` of the Unity Catalog model, as configured."""
    from databricks.sdk.service.serving import ServedEntityInput

    return [
        ServedEntityInput(
            name=SERVED_ENTITY_NAME,
            entity_name=model_name,
            entity_version=str(version),
            workload_size=endpoint.workload_size,
            scale_to_zero_enabled=endpoint.scale_to_zero,
        )
    ]


def ai_gateway(endpoint: ServingEndpoint, runtime: RuntimeSettings) -> AiGatewayConfig | None:
    from databricks.sdk.service.serving import AiGatewayConfig, AiGatewayInferenceTableConfig

    if not endpoint.capture:
        return None
    return AiGatewayConfig(
        inference_table_config=AiGatewayInferenceTableConfig(
            catalog_name=runtime.catalog,
            schema_name=runtime.schema_name,
            table_name_prefix=INFERENCE_TABLE_PREFIX,
            enabled=True,
        )
    )


def create_endpoint(
    client: WorkspaceClient, endpoint: ServingEndpoint, runtime: RuntimeSettings, version: str
) -> None:
    """Create the endpoint serving ``version`` (without waiting for it to become ready)."""
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    client.serving_endpoints.create(
        endpoint.name,
        config=EndpointCoreConfigInput(
            name=endpoint.name,
            served_entities=served_entities(endpoint, runtime.registered_model_name, version),
        ),
        ai_gateway=ai_gateway(endpoint, runtime),
    )


@dataclass(frozen=True)
class EndpointUpdate:
    endpoint: str
    model_name: str
    previous_versions: tuple[str, ...]
    version: str
    created: bool = False

    @property
    def changed(self) -> bool:
        return self.previous_versions != (self.version,)

    def describe(self) -> str:
        before = ",".join(self.previous_versions) or "none"
        if self.created:
            return f"serving endpoint {self.endpoint}: created, serving v{self.version}"
        if not self.changed:
            return f"serving endpoint {self.endpoint} already serves v{self.version}"
        return f"serving endpoint {self.endpoint}: v{before} -> v{self.version}"


class EndpointUpdateError(UserError):
    """The registry change stands; the endpoint still serves the old version."""


def point_endpoint_at(
    client: WorkspaceClient, endpoint: str, model_name: str, version: str
) -> EndpointUpdate:
    """Make ``endpoint`` serve ``version`` of ``model_name``, keeping every other setting.

    Raises databricks-sdk errors as they come (NotFound for a missing endpoint, ...), and
    EndpointUpdateError when the endpoint serves no version of ``model_name`` at all.
    """
    config = client.serving_endpoints.get(endpoint).config
    entities = (config.served_entities if config else None) or []
    ours = [e for e in entities if e.entity_name == model_name]
    if not ours:
        served = ", ".join(sorted({e.entity_name or e.name or "?" for e in entities})) or "nothing"
        raise EndpointUpdateError(
            f"The serving endpoint {endpoint} serves {served}, not {model_name}.",
            "point serving_endpoint (model-deployment's parameter, from the environment's "
            "databricks.serving section) at this model's endpoint",
        )
    previous = tuple(sorted({str(e.entity_version) for e in ours if e.entity_version}))
    update = EndpointUpdate(endpoint, model_name, previous, str(version))
    if not update.changed:
        return update
    client.serving_endpoints.update_config(
        endpoint,
        served_entities=[
            _as_input(e, str(version) if e.entity_name == model_name else e.entity_version)
            for e in entities
        ],
        traffic_config=config.traffic_config if config else None,
    )
    return update


def _as_input(entity: ServedEntityOutput, version: str | None) -> ServedEntityInput:
    """The entity as the endpoint reports it, minus read-only fields, serving ``version``."""
    from databricks.sdk.service.serving import ServedEntityInput

    accepted = {f.name for f in dataclasses.fields(ServedEntityInput)}
    reported = {k: v for k, v in entity.as_dict().items() if k in accepted}
    return ServedEntityInput.from_dict({**reported, "entity_version": version})


def workspace_client(runtime: RuntimeSettings) -> WorkspaceClient:
    """On a cluster its own workspace; at a terminal the environment's profile, else
    databricks-sdk unified auth (DATABRICKS_HOST/DATABRICKS_TOKEN, ...)."""
    from databricks.sdk import WorkspaceClient

    from churn_jobs.context import on_databricks_cluster

    if runtime.workspace_profile and not on_databricks_cluster():
        return WorkspaceClient(profile=runtime.workspace_profile)
    return WorkspaceClient()


def follow_champion(
    runtime: RuntimeSettings,
    endpoint: ServingEndpoint,
    version: str,
    client: WorkspaceClient | None = None,
) -> EndpointUpdate:
    """After a promotion or a rollback: the endpoint serves the new champion ``version``
    (created if it does not exist yet: an endpoint cannot exist before there is a champion).

    Any failure (auth, an API error) is one EndpointUpdateError saying that the registry change
    stands and how to bring the endpoint along.
    """
    from databricks.sdk.errors import DatabricksError, NotFound

    model = runtime.registered_model_name
    try:
        client = client or workspace_client(runtime)
        try:
            return point_endpoint_at(client, endpoint.name, model, str(version))
        except NotFound:
            create_endpoint(client, endpoint, runtime, str(version))
            return EndpointUpdate(endpoint.name, model, (), str(version), created=True)
    except EndpointUpdateError as exc:
        cause = exc.problem
    except (DatabricksError, ValueError) as exc:  # ValueError: databricks-sdk's auth/config
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else exc}"
    raise EndpointUpdateError(
        f"The champion of {model} is now v{version} (that change stands), but the serving "
        f"endpoint {endpoint.name} was not updated: {cause}",
        f"fix the cause, then point it at v{version}: `churn-infra deploy "
        f"{runtime.environment}` (it plans the endpoint onto the champion)",
    )
