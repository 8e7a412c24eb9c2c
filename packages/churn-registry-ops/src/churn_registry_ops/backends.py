"""Where the roles live: MLflow aliases (default, Unity-Catalog-ready) or legacy stages.

| role              | `AliasesBackend`                  | `StagesBackend`                  |
|-------------------|-----------------------------------|----------------------------------|
| champion          | alias `champion`                  | stage Production                 |
| challenger        | alias `challenger`                | stage Staging                    |
| archived          | (tags only, see the facade)       | stage Archived (+ the same tags) |
| previous champion | alias `previous_champion`         | registered-model tag             |

A backend only reads and writes role markers; the facade (`registry.ModelRegistry`) owns the
lock, the check-then-set, the write order and the tags. All writes go through `ModelStore`.
"""

from __future__ import annotations

from typing import Protocol

from mlflow.entities.model_registry import ModelVersion

from churn_registry_ops import tags as t
from churn_registry_ops.state import Mode, RegistryState
from churn_registry_ops.store import ModelStore

_PRODUCTION, _STAGING, _ARCHIVED, _NONE = "Production", "Staging", "Archived", "None"


class RoleBackend(Protocol):
    mode: Mode

    def state(self, store: ModelStore) -> RegistryState: ...

    def set_champion(self, store: ModelStore, v: str) -> None: ...

    def set_challenger(self, store: ModelStore, v: str) -> None: ...

    def clear_challenger(self, store: ModelStore, v: str) -> None:
        """`v` stops being the challenger (no-op if it is not)."""

    def set_previous(self, store: ModelStore, v: str | None) -> None: ...

    def mark_archived(self, store: ModelStore, v: str) -> None:
        """The backend's own archived marker (and `v` loses the challenger role)."""

    def other_champions(self, store: ModelStore, champion: str) -> list[str]:
        """Versions besides `champion` that the backend also shows as champion."""

    def stage(self, mv: ModelVersion) -> str | None: ...

    def aliases(self, v: str, state: RegistryState) -> list[str]: ...


class AliasesBackend:
    mode: Mode = "aliases"

    def state(self, store: ModelStore) -> RegistryState:
        aliases = store.registered_model().aliases or {}
        return RegistryState(
            champion=_opt(aliases.get(t.CHAMPION_ALIAS)),
            challenger=_opt(aliases.get(t.CHALLENGER_ALIAS)),
            previous_champion=_opt(aliases.get(t.PREVIOUS_CHAMPION_ALIAS)),
        )

    def set_champion(self, store: ModelStore, v: str) -> None:
        store.set_alias(t.CHAMPION_ALIAS, v)

    def set_challenger(self, store: ModelStore, v: str) -> None:
        store.set_alias(t.CHALLENGER_ALIAS, v)

    def clear_challenger(self, store: ModelStore, v: str) -> None:
        if self.state(store).challenger == v:
            store.delete_alias(t.CHALLENGER_ALIAS)

    def set_previous(self, store: ModelStore, v: str | None) -> None:
        if v is None:
            if self.state(store).previous_champion is not None:
                store.delete_alias(t.PREVIOUS_CHAMPION_ALIAS)
        else:
            store.set_alias(t.PREVIOUS_CHAMPION_ALIAS, v)

    def mark_archived(self, store: ModelStore, v: str) -> None:
        self.clear_challenger(store, v)

    def other_champions(self, store: ModelStore, champion: str) -> list[str]:
        return []  # an alias names one version

    def stage(self, mv: ModelVersion) -> str | None:
        return None

    def aliases(self, v: str, state: RegistryState) -> list[str]:
        held = {
            t.CHAMPION_ALIAS: state.champion,
            t.CHALLENGER_ALIAS: state.challenger,
            t.PREVIOUS_CHAMPION_ALIAS: state.previous_champion,
        }
        return [alias for alias, target in held.items() if target == v]


class StagesBackend:
    mode: Mode = "stages"

    def state(self, store: ModelStore) -> RegistryState:
        rm = store.registered_model()
        # stages exist only in the workspace registry, whose search results carry them
        stages = {str(mv.version): mv.current_stage for mv in store.search()}
        return RegistryState(
            champion=_newest(v for v, s in stages.items() if s == _PRODUCTION),
            challenger=_newest(v for v, s in stages.items() if s == _STAGING),
            previous_champion=_opt((rm.tags or {}).get(t.PREVIOUS_CHAMPION)),
        )

    def set_champion(self, store: ModelStore, v: str) -> None:
        if store.version(v).current_stage != _PRODUCTION:
            store.transition(v, _PRODUCTION)

    def set_challenger(self, store: ModelStore, v: str) -> None:
        if store.version(v).current_stage != _STAGING:
            store.transition(v, _STAGING)

    def clear_challenger(self, store: ModelStore, v: str) -> None:
        if store.version(v).current_stage == _STAGING:
            store.transition(v, _NONE)

    def set_previous(self, store: ModelStore, v: str | None) -> None:
        present = (store.registered_model().tags or {}).get(t.PREVIOUS_CHAMPION)
        if v is None:
            if present is not None:
                store.delete_model_tag(t.PREVIOUS_CHAMPION)
        elif present != v:
            store.set_model_tag(t.PREVIOUS_CHAMPION, v)

    def mark_archived(self, store: ModelStore, v: str) -> None:
        if store.version(v).current_stage != _ARCHIVED:
            store.transition(v, _ARCHIVED)

    def other_champions(self, store: ModelStore, champion: str) -> list[str]:
        # the legacy registry allows several Production versions
        return [
            str(mv.version)
            for mv in store.search()
            if mv.current_stage == _PRODUCTION and str(mv.version) != champion
        ]

    def stage(self, mv: ModelVersion) -> str | None:
        return str(mv.current_stage)

    def aliases(self, v: str, state: RegistryState) -> list[str]:
        return []


BACKENDS: dict[Mode, type[AliasesBackend] | type[StagesBackend]] = {
    "aliases": AliasesBackend,
    "stages": StagesBackend,
}


def _opt(version: object) -> str | None:
    return None if version in (None, "") else str(version)


def _newest(versions: object) -> str | None:
    found = [int(v) for v in versions]  # type: ignore[attr-defined]
    return str(max(found)) if found else None
