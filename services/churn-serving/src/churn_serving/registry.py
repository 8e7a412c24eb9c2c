"""Which version is the champion, and loading it with churn-model's skops loader (no pyfunc).

Aliases mode: the ``champion`` alias. Stages mode (legacy workspace registry): the newest version
in stage Production. The client is passed in (the service configures MLflow, not this module).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from churn_serving.holder import ServedModel

if TYPE_CHECKING:
    from mlflow import MlflowClient

CHAMPION_ALIAS = "champion"
PRODUCTION_STAGE = "Production"
Mode = Literal["aliases", "stages"]


class ChampionSource:
    def __init__(self, client: MlflowClient, model_name: str, mode: Mode = "aliases") -> None:
        self.client = client
        self.model_name = model_name
        self.mode = mode

    def champion_version(self) -> str | None:
        """The champion's version now, or None if there is none (or no such model)."""
        from mlflow.exceptions import MlflowException

        try:
            if self.mode == "aliases":
                aliases = self.client.get_registered_model(self.model_name).aliases or {}
                version = aliases.get(CHAMPION_ALIAS)
                return None if version is None else str(version)
            versions = self.client.search_model_versions(f"name = '{self.model_name}'")
            production = [int(v.version) for v in versions if v.current_stage == PRODUCTION_STAGE]
            return str(max(production)) if production else None
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
                return None
            raise

    def load(self, version: str) -> ServedModel:
        """The version's pipeline, config and feature spec, verified before loading (raises
        churn-model's errors, UntrustedModelError for a version churn-model did not write)."""
        from churn_model import load_model

        model = load_model(f"models:/{self.model_name}/{version}")
        return ServedModel(self.model_name, version, model, datetime.now(UTC))
