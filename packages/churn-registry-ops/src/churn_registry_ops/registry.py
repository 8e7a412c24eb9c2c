"""Registry facade: champion / challenger roles over MLflow aliases or legacy stages.

Both modes expose the same operations:

| role              | aliases mode (default, UC-ready)     | stages mode (legacy registry)    |
|-------------------|--------------------------------------|----------------------------------|
| champion          | alias `champion`                     | stage Production                 |
| challenger        | alias `challenger`                   | stage Staging                    |
| archived          | tag `churn_archived=true` (+ reason) | stage Archived (+ the same tags) |
| previous champion | alias `previous_champion`            | registered-model tag             |

Every mutating operation runs under `RegistryLock`, re-reads the state, compares it with what the
caller expected (check-then-set) and raises `ConcurrentRegistryChange` before writing anything if
it differs. Writes are ordered so that a crash half-way never leaves the model without a champion:
the new champion is set before the old one is archived.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Literal

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict

from churn_registry_ops import tags as t
from churn_registry_ops.errors import (
    ConcurrentRegistryChange,
    InvalidRegistryOperation,
    ModelNotFound,
    NoChallenger,
    NoChampion,
    NoPreviousChampion,
    VersionNotFound,
    VersionNotValidated,
)
from churn_registry_ops.lock import RegistryLock

if TYPE_CHECKING:
    from churn_registry_ops.comparison import Decision
    from churn_registry_ops.sanity import SanityReport

Mode = Literal["aliases", "stages"]
Role = Literal["champion", "challenger", "archived", "none"]

_PRODUCTION, _STAGING, _ARCHIVED = "Production", "Staging", "Archived"
_GONE = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


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


@contextmanager
def _legacy_stages_api() -> Iterator[None]:
    """Silence MLflow's stage deprecation FutureWarning, only around the calls that emit it.

    Stages mode exists for the legacy workspace registry, which has no other way to express
    Production/Staging; the warning is about the API we deliberately chose, not a bug to fix.
    `warnings.catch_warnings` is process-global state: these calls only run under the registry
    lock, so two of them never interleave within one process.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".*Model registry stages will be removed", category=FutureWarning
        )
        yield


class ModelRegistry:
    """Champion/challenger operations on one registered model.

    `lock_lease_seconds` / `lock_wait_seconds` tune the registry lock (see `lock.py`).
    """

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        mode: Mode = "aliases",
        *,
        lock_lease_seconds: float = 120.0,
        lock_wait_seconds: float = 30.0,
    ) -> None:
        if mode not in ("aliases", "stages"):
            raise ValueError(f"registry mode must be 'aliases' or 'stages', got {mode!r}")
        self.client = client
        self.model_name = model_name
        self.mode: Mode = mode
        self.lock_lease_seconds = lock_lease_seconds
        self.lock_wait_seconds = lock_wait_seconds

    # ------------------------------------------------------------------ reads

    def state(self) -> RegistryState:
        if self.mode == "aliases":
            aliases = self._registered_model().aliases or {}
            return RegistryState(
                champion=_opt(aliases.get(t.CHAMPION_ALIAS)),
                challenger=_opt(aliases.get(t.CHALLENGER_ALIAS)),
                previous_champion=_opt(aliases.get(t.PREVIOUS_CHAMPION_ALIAS)),
            )
        rm = self._registered_model()
        versions = self._search_versions()
        return RegistryState(
            champion=_newest(str(v.version) for v in versions if v.current_stage == _PRODUCTION),
            challenger=_newest(str(v.version) for v in versions if v.current_stage == _STAGING),
            previous_champion=_opt(rm.tags.get(t.PREVIOUS_CHAMPION)),
        )

    def versions(self, run_metrics: Sequence[str] = ()) -> list[ModelVersionInfo]:
        """All versions, newest first. `run_metrics` names training-run metrics to add."""
        state = self.state()
        infos = [self._info(mv, state, run_metrics) for mv in self._search_versions()]
        return sorted(infos, key=lambda i: int(i.version), reverse=True)

    def version(self, version: str | int) -> ModelVersionInfo:
        return self._info(self._get_version(version), self.state(), ())

    def champion(self) -> ModelVersionInfo | None:
        v = self.state().champion
        return None if v is None else self.version(v)

    def challenger(self) -> ModelVersionInfo | None:
        v = self.state().challenger
        return None if v is None else self.version(v)

    def previous_champion(self) -> ModelVersionInfo | None:
        v = self.state().previous_champion
        return None if v is None else self.version(v)

    def require_champion(self) -> ModelVersionInfo:
        info = self.champion()
        if info is None:
            raise NoChampion(self.model_name)
        return info

    def require_challenger(self) -> ModelVersionInfo:
        info = self.challenger()
        if info is None:
            raise NoChallenger(self.model_name)
        return info

    def newest_unchecked(self) -> ModelVersionInfo | None:
        """Newest READY version that carries no validation tag yet."""
        state = self.state()
        candidates = [
            mv
            for mv in self._search_versions()
            if mv.status == "READY" and t.VALIDATION not in (mv.tags or {})
        ]
        if not candidates:
            return None
        newest = max(candidates, key=lambda mv: int(mv.version))
        return self._info(newest, state, ())

    def model_uri(self, version: str | int) -> str:
        return f"models:/{self.model_name}/{_norm(version)}"

    # ------------------------------------------------------------ validation

    def record_validation(self, version: str | int, report: SanityReport) -> None:
        """Tag a version with its sanity-check outcome (passed, or failed with the reason)."""
        v = self._get_version(version).version
        self._tag(v, t.VALIDATION, t.PASSED if report.passed else t.FAILED)
        self._tag(v, t.VALIDATION_REASON, report.summary())
        self._tag(v, t.VALIDATED_AT, _now())

    def record_metrics(self, version: str | int, metrics: dict[str, float]) -> None:
        """Key metrics as `churn_metric_<name>` tags (shown by `versions()`)."""
        v = self._get_version(version).version
        for name, value in metrics.items():
            self._tag(v, f"{t.METRIC_PREFIX}{name}", repr(float(value)))

    # -------------------------------------------------------------- mutations

    def make_challenger(
        self, version: str | int, *, expected_challenger: Expected = UNCHECKED
    ) -> RegistryState:
        """A validated version becomes challenger; a replaced challenger is archived."""
        v = _norm(version)
        with self._locked("make_challenger") as lock:
            state = self.state()
            self._check(state, expected_challenger=expected_challenger)
            self._require_validated(v)
            if v == state.champion:
                raise InvalidRegistryOperation(
                    f"Model '{self.model_name}' version {v} is the champion; it cannot also be "
                    "the challenger."
                )
            if v == state.challenger:
                return state
            lock.verify()
            self._assign_challenger(v)
            self._unarchive(v)
            if state.challenger is not None:
                self._archive(state.challenger, f"superseded by challenger version {v}")
        return self.state()

    def promote(
        self,
        version: str | int,
        *,
        expected_champion: str | int | None,
        expected_challenger: Expected = UNCHECKED,
        reason: str = "promoted",
    ) -> RegistryState:
        """`version` becomes champion; the old champion is archived and kept for `rollback()`.

        `expected_champion` is the champion the caller based its decision on (None: no champion
        yet); the call refuses if the registry no longer matches it.
        """
        return self._promote(
            _norm(version),
            expected_champion=expected_champion,
            expected_challenger=expected_challenger,
            reason=reason,
            extra_tags={},
        )

    def promote_version(
        self, version: str | int, *, expected_champion: str | int | None
    ) -> RegistryState:
        """Manual promotion (`churn promote --version N`), e.g. the very first champion."""
        return self.promote(version, expected_champion=expected_champion, reason="promoted by hand")

    def archive(
        self,
        version: str | int,
        reason: str,
        *,
        expected_champion: Expected = UNCHECKED,
        expected_challenger: Expected = UNCHECKED,
    ) -> RegistryState:
        """Archive a version that is not the champion (e.g. a rejected challenger)."""
        v = _norm(version)
        with self._locked("archive") as lock:
            state = self.state()
            self._check(
                state, expected_champion=expected_champion, expected_challenger=expected_challenger
            )
            self._get_version(v)
            if v == state.champion:
                raise InvalidRegistryOperation(
                    f"Model '{self.model_name}' version {v} is the champion and cannot be "
                    "archived; promote another version or `churn rollback` first."
                )
            lock.verify()
            self._archive(v, reason)
        return self.state()

    def rollback(
        self, *, expected_champion: str | int | None, reason: str = "rolled back"
    ) -> RegistryState:
        """The previous champion becomes champion again; the current one is archived."""
        with self._locked("rollback") as lock:
            state = self.state()
            self._check(state, expected_champion=expected_champion)
            previous = state.previous_champion
            if previous is None:
                raise NoPreviousChampion(self.model_name)
            self._get_version(previous)
            lock.verify()
            self._assign_champion(previous)
            self._unarchive(previous)
            self._tag(previous, t.PROMOTED_AT, _now())
            self._set_previous(None)
            if state.challenger == previous and self.mode == "aliases":
                self._delete_alias(t.CHALLENGER_ALIAS)
            if state.champion is not None and state.champion != previous:
                self._archive(state.champion, f"{reason}: replaced by version {previous}")
        return self.state()

    def apply_decision(
        self,
        decision: Decision,
        expected: RegistryState,
        *,
        decision_run_id: str | None = None,
    ) -> RegistryState:
        """Apply a champion/challenger decision computed against `expected`.

        Promote: the challenger becomes champion (old champion archived, kept for rollback).
        Reject: the challenger is archived, the champion stays. Either way the challenger is
        tagged with the decision, its reasons and the deployment run id. Refuses with
        `ConcurrentRegistryChange` if champion or challenger changed since `expected` was read.
        """
        if expected.champion is None:
            raise NoChampion(self.model_name)
        if expected.challenger is None:
            raise NoChallenger(self.model_name)
        decision_tags = {
            t.DECISION: "promoted" if decision.promote else "rejected",
            t.DECISION_REASON: "; ".join(decision.reasons),
        }
        if decision_run_id is not None:
            decision_tags[t.DECISION_RUN_ID] = decision_run_id
        if decision.promote:
            return self._promote(
                expected.challenger,
                expected_champion=expected.champion,
                expected_challenger=expected.challenger,
                reason="challenger won the comparison",
                extra_tags=decision_tags,
            )
        with self._locked("reject") as lock:
            state = self.state()
            self._check(
                state,
                expected_champion=expected.champion,
                expected_challenger=expected.challenger,
            )
            lock.verify()
            for key, value in decision_tags.items():
                self._tag(expected.challenger, key, value)
            self._archive(
                expected.challenger,
                f"rejected against champion version {expected.champion}",
            )
        return self.state()

    # --------------------------------------------------------------- internals

    def _promote(
        self,
        v: str,
        *,
        expected_champion: str | int | None,
        expected_challenger: Expected,
        reason: str,
        extra_tags: dict[str, str],
    ) -> RegistryState:
        with self._locked("promote") as lock:
            state = self.state()
            self._check(
                state, expected_champion=expected_champion, expected_challenger=expected_challenger
            )
            self._require_validated(v)
            if v == state.champion:
                raise InvalidRegistryOperation(
                    f"Model '{self.model_name}' version {v} is already the champion."
                )
            lock.verify()
            old = state.champion
            if old is not None:
                self._set_previous(old)
            self._assign_champion(v)
            if state.challenger == v and self.mode == "aliases":
                self._delete_alias(t.CHALLENGER_ALIAS)
            self._unarchive(v)
            self._tag(v, t.PROMOTED_AT, _now())
            extra_tags = {t.DECISION: "promoted", t.DECISION_REASON: reason, **extra_tags}
            for key, value in extra_tags.items():
                self._tag(v, key, value)
            if old is not None:
                self._archive(old, f"replaced by version {v} ({reason})")
            if self.mode == "stages":  # the legacy registry allows several Production versions
                for mv in self._search_versions():
                    other = str(mv.version)  # search results carry int versions
                    if mv.current_stage == _PRODUCTION and other not in (v, old):
                        self._archive(other, f"replaced by version {v}")
        return self.state()

    @contextmanager
    def _locked(self, operation: str) -> Iterator[RegistryLock]:
        self._registered_model()  # a clear ModelNotFound before any lock is taken
        with RegistryLock(
            self.client,
            self.model_name,
            operation=operation,
            lease_seconds=self.lock_lease_seconds,
            wait_seconds=self.lock_wait_seconds,
        ) as lock:
            yield lock

    def _check(
        self,
        state: RegistryState,
        *,
        expected_champion: Expected = UNCHECKED,
        expected_challenger: Expected = UNCHECKED,
    ) -> None:
        changes = []
        for role, expected, actual in (
            ("champion", expected_champion, state.champion),
            ("challenger", expected_challenger, state.challenger),
        ):
            if isinstance(expected, _Unchecked):
                continue
            want = None if expected is None else _norm(expected)
            if want != actual:
                changes.append(f"the {role} is now {_label(actual)}, expected {_label(want)}")
        if changes:
            raise ConcurrentRegistryChange(self.model_name, "; ".join(changes))

    def _require_validated(self, v: str) -> None:
        tags = self._get_version(v).tags or {}
        status = tags.get(t.VALIDATION)
        if status != t.PASSED:
            raise VersionNotValidated(
                self.model_name, v, status, tags.get(t.VALIDATION_REASON, "no reason recorded")
            )

    def _assign_champion(self, v: str) -> None:
        if self.mode == "aliases":
            self.client.set_registered_model_alias(self.model_name, t.CHAMPION_ALIAS, v)
        else:
            self._transition(v, _PRODUCTION)

    def _assign_challenger(self, v: str) -> None:
        if self.mode == "aliases":
            self.client.set_registered_model_alias(self.model_name, t.CHALLENGER_ALIAS, v)
        else:
            self._transition(v, _STAGING)

    def _set_previous(self, v: str | None) -> None:
        if self.mode == "aliases":
            if v is None:
                self._delete_alias(t.PREVIOUS_CHAMPION_ALIAS)
            else:
                self.client.set_registered_model_alias(
                    self.model_name, t.PREVIOUS_CHAMPION_ALIAS, v
                )
        elif v is None:
            if t.PREVIOUS_CHAMPION in self._registered_model().tags:
                self.client.delete_registered_model_tag(self.model_name, t.PREVIOUS_CHAMPION)
        else:
            self.client.set_registered_model_tag(self.model_name, t.PREVIOUS_CHAMPION, v)

    def _archive(self, v: str, reason: str) -> None:
        if self.mode == "aliases":
            aliases = self._registered_model().aliases or {}
            if _opt(aliases.get(t.CHALLENGER_ALIAS)) == v:
                self._delete_alias(t.CHALLENGER_ALIAS)
        else:
            self._transition(v, _ARCHIVED)
        self._tag(v, t.ARCHIVED, "true")
        self._tag(v, t.ARCHIVED_REASON, reason)
        self._tag(v, t.ARCHIVED_AT, _now())

    def _unarchive(self, v: str) -> None:
        present = self._get_version(v).tags or {}
        for key in (t.ARCHIVED, t.ARCHIVED_REASON, t.ARCHIVED_AT):
            if key in present:
                self.client.delete_model_version_tag(self.model_name, v, key)

    def _transition(self, v: str, stage: str) -> None:
        with _legacy_stages_api():
            self.client.transition_model_version_stage(
                self.model_name, v, stage, archive_existing_versions=False
            )

    def _delete_alias(self, alias: str) -> None:
        try:
            self.client.delete_registered_model_alias(self.model_name, alias)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise

    def _tag(self, v: str, key: str, value: str) -> None:
        self.client.set_model_version_tag(self.model_name, v, key, t.tag_value(value))

    def _registered_model(self) -> RegisteredModel:
        try:
            return self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                raise ModelNotFound(self.model_name) from exc
            raise

    def _get_version(self, version: str | int) -> ModelVersion:
        try:
            v = _norm(version)
        except ValueError as exc:
            raise VersionNotFound(self.model_name, version) from exc
        try:
            return self.client.get_model_version(self.model_name, v)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                self._registered_model()  # ModelNotFound if the model itself is missing
                raise VersionNotFound(self.model_name, v) from exc
            raise

    def _search_versions(self) -> list[ModelVersion]:
        name = self.model_name.replace("'", "\\'")
        found: list[ModelVersion] = []
        token: str | None = None
        while True:
            page = self.client.search_model_versions(
                f"name='{name}'", max_results=1000, page_token=token
            )
            found.extend(page)
            token = page.token
            if not token:
                return found

    def _info(
        self, mv: ModelVersion, state: RegistryState, run_metrics: Sequence[str]
    ) -> ModelVersionInfo:
        tags = dict(mv.tags or {})
        v = str(mv.version)
        role: Role
        if v == state.champion:
            role = "champion"
        elif v == state.challenger:
            role = "challenger"
        elif tags.get(t.ARCHIVED) == "true" or mv.current_stage == _ARCHIVED:
            role = "archived"
        else:
            role = "none"
        metrics: dict[str, float] = {}
        if run_metrics and mv.run_id:
            try:
                run_data = self.client.get_run(mv.run_id).data.metrics
                metrics.update({k: float(run_data[k]) for k in run_metrics if k in run_data})
            except MlflowException:
                pass  # a deleted run leaves the version listable
        for key, value in tags.items():
            if key.startswith(t.METRIC_PREFIX):
                try:
                    metrics[key[len(t.METRIC_PREFIX) :]] = float(value)
                except ValueError:
                    continue
        aliases = [
            alias
            for alias, target in {
                t.CHAMPION_ALIAS: state.champion if self.mode == "aliases" else None,
                t.CHALLENGER_ALIAS: state.challenger if self.mode == "aliases" else None,
                t.PREVIOUS_CHAMPION_ALIAS: state.previous_champion
                if self.mode == "aliases"
                else None,
            }.items()
            if target == v
        ]
        return ModelVersionInfo(
            name=self.model_name,
            version=v,
            run_id=mv.run_id or None,
            source=str(mv.source),
            status=str(mv.status),
            created_at=datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, tz=UTC),
            role=role,
            is_previous_champion=v == state.previous_champion,
            aliases=aliases,
            stage=mv.current_stage if self.mode == "stages" else None,
            validation=tags.get(t.VALIDATION),
            validation_reason=tags.get(t.VALIDATION_REASON),
            decision=tags.get(t.DECISION),
            decision_reason=tags.get(t.DECISION_REASON),
            archived_reason=tags.get(t.ARCHIVED_REASON) if role == "archived" else None,
            metrics=metrics,
            tags=tags,
        )


def _norm(version: str | int) -> str:
    """A version number as MLflow stores it; anything else is a user mistake, not a crash."""
    try:
        n = int(str(version).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise InvalidRegistryOperation(
            f"{version!r} is not a model version: versions are whole numbers from 1. "
            "List them with `churn models`."
        )
    return str(n)


def _opt(version: object) -> str | None:
    return None if version in (None, "") else str(version)


def _newest(versions: Iterator[str] | Sequence[str]) -> str | None:
    found = [int(v) for v in versions]
    return str(max(found)) if found else None


def _label(version: str | None) -> str:
    return "none" if version is None else f"version {version}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
