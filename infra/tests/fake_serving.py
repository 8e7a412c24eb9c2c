"""FAKE Model Serving endpoints on top of the fake workspace (``/api/2.0/serving-endpoints``),
with the Unity Catalog model versions and aliases they serve (``/api/2.1/unity-catalog/models``).

A separate module so that the fake workspace's jobs/files part stays as it is: this subclass
answers those paths and hands every other request to ``FakeWorkspace``. Like the rest of the
fake it rejects what the real API rejects; each rule cites its source. Register model versions
with ``add_model_version`` (what model-train does in a real workspace).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from fake_workspace import FakeWorkspace, RecordedRequest, _not_found

PREFIX = "/api/2.0/serving-endpoints"
MODELS = "/api/2.1/unity-catalog/models/"
# REST API reference, "Create a new serving endpoint" (POST /api/2.0/serving-endpoints): the name
# "can consist of alphanumeric characters, dashes, and underscores" and is unique in the workspace.
# https://docs.databricks.com/api/workspace/servingendpoints/create (also the Terraform provider's
# databricks_model_serving docs, databricks/terraform-provider-databricks#2054)
NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
# Same page, served_entities[].workload_size: "Small", "Medium", "Large" (or a custom size).
WORKLOAD_SIZES = {"Small", "Medium", "Large"}


@dataclass
class FakeModel:
    """A Unity Catalog registered model: its versions and aliases (alias -> version)."""

    versions: set[str] = field(default_factory=set)
    aliases: dict[str, str] = field(default_factory=dict)


class FakeServingWorkspace(FakeWorkspace):
    def __init__(self, token: str = "fake-token-0123456789") -> None:
        super().__init__(token)
        self.endpoints: dict[str, dict[str, Any]] = {}
        self.models: dict[str, FakeModel] = {}

    def add_model_version(self, model: str, version: str | int, *, champion: bool = False) -> None:
        with self._lock:
            registered = self.models.setdefault(model, FakeModel())
            registered.versions.add(str(version))
            if champion:
                registered.aliases["champion"] = str(version)

    def served_version(self, endpoint: str) -> str:
        (entity,) = self.endpoints[endpoint]["config"]["served_entities"]
        return str(entity["entity_version"])

    def handle(self, request: RecordedRequest) -> tuple[int, Any]:
        if not request.path.startswith((PREFIX, MODELS)):
            return super().handle(request)
        with self._lock:
            self.requests.append(request)
            if request.authorization != f"Bearer {self.token}":
                return 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
            for fault in self.faults:
                if fault.matches(request):
                    fault.times -= 1
                    return fault.status, {"error_code": fault.error_code, "message": fault.message}
            if request.path.startswith(MODELS):
                return self._model_version(request)
            rest = request.path.removeprefix(PREFIX).strip("/")
            if request.method == "POST" and not rest:
                return self._create(request.json)
            name, _, action = rest.partition("/")
            if name not in self.endpoints:
                return _not_found(f"Endpoint with name '{name}' does not exist.")
            if request.method == "GET" and not action:
                return 200, self.endpoints[name]
            if request.method == "PUT" and action == "config":
                entities = request.json.get("served_entities")
                problem = _check_entities(entities) or _check_traffic(
                    entities, request.json.get("traffic_config")
                )
                if problem:
                    return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": problem}
                if missing := self._missing_versions(entities):
                    return missing
                endpoint = self.endpoints[name]
                endpoint["config"] = {"served_entities": entities}
                if request.json.get("traffic_config"):
                    endpoint["config"]["traffic_config"] = request.json["traffic_config"]
                return 200, endpoint
            if request.method == "PUT" and action == "ai-gateway":
                # PUT /api/2.0/serving-endpoints/{name}/ai-gateway replaces the gateway config
                # (https://docs.databricks.com/api/workspace/servingendpoints/putaigateway)
                endpoint = self.endpoints[name]
                endpoint["ai_gateway"] = request.json
                return 200, request.json
            return _not_found(f"The fake workspace does not serve {request.method} {request.path}.")

    def _model_version(self, request: RecordedRequest) -> tuple[int, Any]:
        """GET .../models/{full_name}/aliases/{alias} and .../models/{full_name}/versions/{v}."""
        parts = unquote(request.path.removeprefix(MODELS)).split("/")
        if request.method != "GET" or len(parts) != 3 or parts[1] not in ("aliases", "versions"):
            return _not_found(f"The fake workspace does not serve {request.method} {request.path}.")
        full_name, kind, key = parts
        model = self.models.get(full_name)
        if model is None:
            return _not_found(f"Registered model '{full_name}' does not exist.")
        version = model.aliases.get(key) if kind == "aliases" else key
        if version is None or version not in model.versions:
            what = f"alias '{key}'" if kind == "aliases" else f"version {key}"
            return _not_found(f"Model {full_name} has no {what}.")
        aliases = [{"alias_name": a, "version_num": int(v)} for a, v in model.aliases.items()]
        return 200, {
            "model_name": full_name,
            "version": int(version),
            "status": "READY",
            "aliases": [a for a in aliases if str(a["version_num"]) == version],
        }

    def _missing_versions(self, entities: list[dict[str, Any]]) -> tuple[int, Any] | None:
        """A served entity is a version of a registered model: served_entities[].entity_name names
        the model and entity_version the version to serve (create reference above); a version
        that does not exist cannot be served. The error code is the fake's choice: the one Unity
        Catalog answers for a missing model version (RESOURCE_DOES_NOT_EXIST, 404)."""
        for entity in entities:
            name, version = entity["entity_name"], str(entity.get("entity_version"))
            model = self.models.get(name)
            if model is None or version not in model.versions:
                return _not_found(f"Model version {version} of {name} does not exist.")
        return None

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name", "")
        if not NAME.match(name):
            return 400, {
                "error_code": "INVALID_PARAMETER_VALUE",
                "message": f"Invalid endpoint name '{name}': use alphanumeric characters, "
                "dashes and underscores.",
            }
        if name in self.endpoints:
            # The name "must be unique across a Databricks workspace" (create, reference above).
            return 400, {
                "error_code": "RESOURCE_ALREADY_EXISTS",
                "message": f"Endpoint with name '{name}' already exists.",
            }
        config = body.get("config") or {}
        problem = _check_entities(config.get("served_entities")) or _check_traffic(
            config.get("served_entities"), config.get("traffic_config")
        )
        if problem:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": problem}
        if missing := self._missing_versions(config["served_entities"]):
            return missing
        endpoint = {
            "name": name,
            "config": {
                k: v for k, v in config.items() if k in ("served_entities", "traffic_config")
            },
            "ai_gateway": body.get("ai_gateway"),
            "state": {"ready": "NOT_READY", "config_update": "IN_PROGRESS"},
        }
        self.endpoints[name] = endpoint
        return 200, endpoint


def _check_entities(entities: Any) -> str | None:
    if not entities:
        return "The served_entities field must have at least one entity."
    for entity in entities:
        if not entity.get("entity_name"):
            return "entity_name is required for a served entity."
        # A Unity Catalog model is served by version: entity_version is required for it
        # (served_entities[].entity_version in the create reference above).
        if "." in entity["entity_name"] and not entity.get("entity_version"):
            return (
                f"entity_version is required for the Unity Catalog model {entity['entity_name']}."
            )
        size = entity.get("workload_size")
        if size is not None and size not in WORKLOAD_SIZES:
            return f"Invalid workload_size '{size}': use Small, Medium or Large."
        if "scale_to_zero_enabled" not in entity:
            return "scale_to_zero_enabled is required for a served entity."
    return None


def _check_traffic(entities: list[dict[str, Any]], traffic: Any) -> str | None:
    """traffic_config.routes name served entities and their percentages sum to 100 (create
    reference above, config.traffic_config)."""
    if not traffic:
        return None
    names = {e.get("name") for e in entities}
    routes = traffic.get("routes") or []
    if unknown := [r["served_model_name"] for r in routes if r["served_model_name"] not in names]:
        return f"The traffic config routes to unknown served entities {unknown}."
    if routes and sum(r.get("traffic_percentage", 0) for r in routes) != 100:
        return "The traffic percentages of the routes must sum to 100."
    return None
