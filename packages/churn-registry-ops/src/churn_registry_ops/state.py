"""What the registry facade reads: who holds which role, and one version with its tags."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict

Mode = Literal["aliases", "stages"]
Role = Literal["champion", "challenger", "archived", "none"]


class _Unchecked(Enum):
    UNCHECKED = "unchecked"


#: Default of the optional `expected_*` arguments: do not compare that role.
UNCHECKED = _Unchecked.UNCHECKED

Expected = str | int | None | _Unchecked


class RegistryState(BaseModel):
    """Who holds which role; pass it back to a mutating call to make it check-then-set."""

    model_config = ConfigDict(frozen=True)

    champion: str | None = None
    challenger: str | None = None
    previous_champion: str | None = None


class ModelVersionInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    run_id: str | None
    source: str
    status: str
    created_at: datetime
    role: Role
    is_previous_champion: bool
    aliases: list[str]
    stage: str | None
    validation: str | None
    validation_reason: str | None
    decision: str | None
    decision_reason: str | None
    archived_reason: str | None
    metrics: dict[str, float]
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"
