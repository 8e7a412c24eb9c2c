"""FAKE Model Serving endpoints on top of the fake workspace (``/api/2.0/serving-endpoints``).

A separate module so that the fake workspace's jobs/files part stays as it is: this subclass
answers the serving-endpoints paths and hands every other request to ``FakeWorkspace``. Like the
rest of the fake it rejects what the real API rejects; each rule cites its source.
"""

from __future__ import annotations

import re
from typing import Any

from fake_workspace import FakeWorkspace, RecordedRequest, _not_found

PREFIX = "/api/2.0/serving-endpoints"
# REST API reference, "Create a new serving endpoint" (POST /api/2.0/serving-endpoints): the name
# "can consist of alphanumeric characters, dashes, and underscores" and is unique in the workspace.
# https://docs.databricks.com/api/workspace/servingendpoints/create
NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
# Same page, served_entities[].workload_size: "Small", "Medium", "Large" (or a custom size).
WORKLOAD_SIZES = {"Small", "Medium", "Large"}


class FakeServingWorkspace(FakeWorkspace):
    def __init__(self, token: str = "fake-token-0123456789") -> None:
        super().__init__(token)
        self.endpoints: dict[str, dict[str, Any]] = {}

    def handle(self, request: RecordedRequest) -> tuple[int, Any]:
        if not request.path.startswith(PREFIX):
            return super().handle(request)
        with self._lock:
            self.requests.append(request)
            if request.authorization != f"Bearer {self.token}":
                return 401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."}
            rest = request.path.removeprefix(PREFIX).strip("/")
            if request.method == "POST" and not rest:
                return self._create(request.json)
            name, _, action = rest.partition("/")
            if name not in self.endpoints:
                return _not_found(f"Endpoint with name '{name}' does not exist.")
            if request.method == "GET" and not action:
                return 200, self.endpoints[name]
            if request.method == "PUT" and action == "config":
                problem = _check_entities(request.json.get("served_entities"))
                if problem:
                    return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": problem}
                endpoint = self.endpoints[name]
                endpoint["config"] = {"served_entities": request.json["served_entities"]}
                return 200, endpoint
            return _not_found(f"The fake workspace does not serve {request.method} {request.path}.")

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
        problem = _check_entities(config.get("served_entities"))
        if problem:
            return 400, {"error_code": "INVALID_PARAMETER_VALUE", "message": problem}
        endpoint = {
            "name": name,
            "config": {"served_entities": config["served_entities"]},
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
