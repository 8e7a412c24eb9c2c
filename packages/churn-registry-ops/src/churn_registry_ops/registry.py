"""Registry facade: champion / challenger roles over MLflow aliases or legacy stages.

The roles live in a `RoleBackend` (`backends.py`) picked by the mode; this facade owns what both
modes share:

- **Check-then-set under the lock.** Every mutation runs under `RegistryLock`, re-reads the state,
  compares it with what the caller expected and raises `ConcurrentRegistryChange` before writing
  anything if it differs. Every write renews (verifies and extends) the lock's lease first.
- **Every intermediate state is valid.** A multi-write change first records its intent in the
  registered-model tag `churn_pending_change`, then writes in an order where a crash at any point
  leaves exactly one champion and champion != challenger (a promoted challenger loses the
  challenger role before it gains the champion role; a new champion is set before the old one is
  archived), and clears the intent last. `problems()` reports a half-applied change;
  `repair()` (`churn repair`) completes it, and so does the next mutation, before its own check.
- **Tags only from `tags.py`.**
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from churn_registry_ops import tags as t
from churn_registry_ops.backends import BACKENDS, RoleBackend
from churn_registry_ops.errors import (
    ConcurrentRegistryChange,
    InvalidRegistryOperation,
    NoChallenger,
    NoChampion,
    NoPreviousChampion,
    OlderThanChallenger,
    VersionNotValidated,
)
from churn_registry_ops.lock import RegistryLock
from churn_registry_ops.state import (
    UNCHECKED,
    Expected,
    Mode,
    ModelVersionInfo,
    RegistryState,
    Role,
    _Unchecked,
)
from churn_registry_ops.store import ModelStore, norm_version

if TYPE_CHECKING:
    from churn_registry_ops.comparison import Decision
    from churn_registry_ops.report import SanityReport

_log = logging.getLogger(__name__)

__all__ = ["UNCHECKED", "Expected", "ModelRegistry", "ModelVersionInfo", "RegistryState"]


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
        self.client = client
        self.model_name = model_name
        self.mode: Mode = mode
        self.backend: RoleBackend = BACKENDS[mode]()
        self.store = ModelStore(client, model_name)
        self.lock_lease_seconds = lock_lease_seconds
        self.lock_wait_seconds = lock_wait_seconds

    # ------------------------------------------------------------------ reads

    def state(self) -> RegistryState:
        return self.backend.state(self.store)

    def versions(self, run_metrics: Sequence[str] = ()) -> list[ModelVersionInfo]:
        """All versions, newest first. `run_metrics` names training-run metrics to add."""
        state = self.state()
        return [self._info(mv, state, run_metrics) for mv in self.store.versions()]

    def version(self, version: str | int) -> ModelVersionInfo:
        return self._info(self.store.version(version), self.state(), ())

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
        """Newest READY version that carries no validation tag yet (each fetched with its tags)."""
        state = None
        for mv in self.store.versions():
            if mv.status == "READY" and t.VALIDATION not in (mv.tags or {}):
                state = state or self.state()
                return self._info(mv, state, ())
        return None

    def model_uri(self, version: str | int) -> str:
        return f"models:/{self.model_name}/{norm_version(version)}"

    def pending_change(self) -> dict[str, Any] | None:
        """The intent of a change that was interrupted half-way, if any."""
        raw = (self.store.registered_model().tags or {}).get(t.PENDING_CHANGE)
        if not raw:
            return None
        try:
            intent = json.loads(raw)
        except ValueError:
            return {"op": "unreadable", "raw": raw}
        return intent if isinstance(intent, dict) else {"op": "unreadable", "raw": raw}

    def problems(self) -> list[str]:
        """Inconsistencies a crash can leave; `repair()` fixes each of them."""
        found = []
        intent = self.pending_change()
        if intent is not None:
            found.append(f"half-applied change: {_describe(intent)}")
        state = self.state()
        if state.champion is not None and state.champion == state.challenger:
            found.append(f"version {state.champion} is both champion and challenger")
        if state.champion is not None:
            tags = self.store.version(state.champion).tags or {}
            if tags.get(t.ARCHIVED) == "true":
                found.append(f"the champion, version {state.champion}, is tagged archived")
            others = self.backend.other_champions(self.store, state.champion)
            if others:
                found.append(f"versions {others} are also in stage Production")
        return found

    # ------------------------------------------------------------ validation

    def record_validation(self, version: str | int, report: SanityReport) -> None:
        """Tag a version with its sanity-check outcome (passed, or failed with the reasons)."""
        v = str(self.store.version(version).version)
        self.store.set_version_tag(v, t.VALIDATION, t.PASSED if report.passed else t.FAILED)
        self.store.set_version_tag(v, t.VALIDATION_REASON, report.summary())
        if report.passed:
            self.store.delete_version_tag(v, t.VALIDATION_FAILED_CHECKS)
        else:
            failed = ",".join(dict.fromkeys(report.failure_reasons))
            self.store.set_version_tag(v, t.VALIDATION_FAILED_CHECKS, failed)
        self.store.set_version_tag(v, t.VALIDATED_AT, _now())

    # -------------------------------------------------------------- mutations

    def make_challenger(
        self, version: str | int, *, expected_challenger: Expected = UNCHECKED
    ) -> RegistryState:
        """A validated version becomes challenger; a replaced (older) challenger is archived.

        `OlderThanChallenger` if the current challenger is newer: it is never replaced by an
        older version (two validations finishing out of order).
        """
        v = norm_version(version)
        with self._locked("make_challenger"):
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
            if state.challenger is not None and int(state.challenger) > int(v):
                raise OlderThanChallenger(self.model_name, v, state.challenger)
            self._run({"op": "challenger", "version": v, "old": state.challenger})
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
            norm_version(version),
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
        v = norm_version(version)
        with self._locked("archive"):
            state = self.state()
            self._check(
                state, expected_champion=expected_champion, expected_challenger=expected_challenger
            )
            self.store.version(v)
            if v == state.champion:
                raise InvalidRegistryOperation(
                    f"Model '{self.model_name}' version {v} is the champion and cannot be "
                    "archived; promote another version or `churn rollback` first."
                )
            self._run({"op": "archive", "version": v, "reason": reason})
        return self.state()

    def rollback(
        self, *, expected_champion: str | int | None, reason: str = "rolled back"
    ) -> RegistryState:
        """The previous champion becomes champion again; the current one is archived."""
        with self._locked("rollback"):
            state = self.state()
            self._check(state, expected_champion=expected_champion)
            previous = state.previous_champion
            if previous is None:
                raise NoPreviousChampion(self.model_name)
            self.store.version(previous)
            self._run(
                {
                    "op": "rollback",
                    "version": previous,
                    "old": state.champion,
                    "reason": f"{reason}: replaced by version {previous}",
                }
            )
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
        with self._locked("reject"):
            state = self.state()
            self._check(
                state,
                expected_champion=expected.champion,
                expected_challenger=expected.challenger,
            )
            for key, value in decision_tags.items():
                self.store.set_version_tag(expected.challenger, key, value)
            self._run(
                {
                    "op": "archive",
                    "version": expected.challenger,
                    "reason": f"rejected against champion version {expected.champion}",
                }
            )
        return self.state()

    def repair(self) -> list[str]:
        """Complete a half-applied change and fix what `problems()` reports; returns what it did."""
        with self._locked("repair"):
            done = self._complete_pending()
            state = self.state()
            if state.champion is not None and state.champion == state.challenger:
                self.backend.clear_challenger(self.store, state.challenger)
                done.append(f"version {state.champion} is no longer also the challenger")
            if state.champion is not None:
                v = state.champion
                if (self.store.version(v).tags or {}).get(t.ARCHIVED) == "true":
                    self._unarchive(v)
                    done.append(f"the champion, version {v}, is no longer tagged archived")
                for other in self.backend.other_champions(self.store, v):
                    self._archive(other, f"replaced by version {v}")
                    done.append(f"version {other} archived (a second Production version)")
        return done

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
        with self._locked("promote"):
            state = self.state()
            self._check(
                state, expected_champion=expected_champion, expected_challenger=expected_challenger
            )
            self._require_validated(v)
            if v == state.champion:
                raise InvalidRegistryOperation(
                    f"Model '{self.model_name}' version {v} is already the champion."
                )
            # the decision is recorded on the version before any role moves
            for key, value in {
                t.DECISION: "promoted",
                t.DECISION_REASON: reason,
                **extra_tags,
            }.items():
                self.store.set_version_tag(v, key, value)
            self._run({"op": "promote", "version": v, "old": state.champion, "reason": reason})
        return self.state()

    def _run(self, intent: dict[str, Any]) -> None:
        """Record the intent, apply it (idempotent steps), clear it."""
        self.store.set_model_tag(t.PENDING_CHANGE, t.tag_value(json.dumps(intent)))
        self._apply(intent)
        self.store.delete_model_tag(t.PENDING_CHANGE)

    def _apply(self, intent: dict[str, Any]) -> None:
        """Bring the registry from any point of `intent`'s write sequence to its end."""
        op, v = intent.get("op"), intent.get("version")
        old, reason = intent.get("old"), str(intent.get("reason", op))
        if op in ("promote", "rollback") and v:
            # 1. v stops being challenger: champion (old) != challenger (none) at every point
            self.backend.clear_challenger(self.store, v)
            # 2. the version to roll back to; rollback leaves none
            if op == "promote" and old and old != v:
                self.backend.set_previous(self.store, old)
            # 3. the switch: one write
            self.backend.set_champion(self.store, v)
            self._unarchive(v)
            self.store.set_version_tag(v, t.PROMOTED_AT, _now())
            if op == "rollback":
                self.backend.set_previous(self.store, None)
            # 4. the old champion steps down only after the new one is in place
            if old and old != v:
                self._archive(
                    old, reason if op == "rollback" else f"replaced by version {v} ({reason})"
                )
            for other in self.backend.other_champions(self.store, v):
                self._archive(other, f"replaced by version {v}")
        elif op == "challenger" and v:
            self.backend.set_challenger(self.store, v)
            self._unarchive(v)
            if old and old != v:
                self._archive(old, f"superseded by challenger version {v}")
        elif op == "archive" and v:
            self._archive(v, reason)
        else:
            _log.warning("dropping an unreadable pending change on %s: %s", self.model_name, intent)

    def _complete_pending(self) -> list[str]:
        intent = self.pending_change()
        if intent is None:
            return []
        _log.warning("completing a half-applied change on %s: %s", self.model_name, intent)
        self._apply(intent)
        self.store.delete_model_tag(t.PENDING_CHANGE)
        return [f"completed {_describe(intent)}"]

    @contextmanager
    def _locked(self, operation: str) -> Iterator[RegistryLock]:
        self.store.registered_model()  # a clear ModelNotFound before any lock is taken
        with RegistryLock(
            self.client,
            self.model_name,
            operation=operation,
            lease_seconds=self.lock_lease_seconds,
            wait_seconds=self.lock_wait_seconds,
        ) as lock:
            self.store.before_write = lock.renew
            try:
                if operation != "repair":
                    self._complete_pending()  # the caller's check then sees the completed state
                yield lock
            finally:
                self.store.before_write = None

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
            want = None if expected is None else norm_version(expected)
            if want != actual:
                changes.append(f"the {role} is now {_label(actual)}, expected {_label(want)}")
        if changes:
            raise ConcurrentRegistryChange(self.model_name, "; ".join(changes))

    def _require_validated(self, v: str) -> None:
        tags = self.store.version(v).tags or {}
        status = tags.get(t.VALIDATION)
        if status != t.PASSED:
            raise VersionNotValidated(
                self.model_name, v, status, tags.get(t.VALIDATION_REASON, "no reason recorded")
            )

    def _archive(self, v: str, reason: str) -> None:
        self.backend.mark_archived(self.store, v)
        self.store.set_version_tag(v, t.ARCHIVED, "true")
        self.store.set_version_tag(v, t.ARCHIVED_REASON, reason)
        self.store.set_version_tag(v, t.ARCHIVED_AT, _now())

    def _unarchive(self, v: str) -> None:
        present = self.store.version(v).tags or {}
        for key in (t.ARCHIVED, t.ARCHIVED_REASON, t.ARCHIVED_AT):
            if key in present:
                self.store.delete_version_tag(v, key)

    def _info(
        self, mv: ModelVersion, state: RegistryState, run_metrics: Sequence[str]
    ) -> ModelVersionInfo:
        tags = dict(mv.tags or {})
        v = str(mv.version)
        stage = self.backend.stage(mv)
        role: Role
        if v == state.champion:
            role = "champion"
        elif v == state.challenger:
            role = "challenger"
        elif tags.get(t.ARCHIVED) == "true" or stage == "Archived":
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
        metrics.update(t.metrics_from_tags(tags))
        return ModelVersionInfo(
            name=self.model_name,
            version=v,
            run_id=mv.run_id or None,
            source=str(mv.source),
            status=str(mv.status),
            created_at=datetime.fromtimestamp((mv.creation_timestamp or 0) / 1000, tz=UTC),
            role=role,
            is_previous_champion=v == state.previous_champion,
            aliases=self.backend.aliases(v, state),
            stage=stage,
            validation=tags.get(t.VALIDATION),
            validation_reason=tags.get(t.VALIDATION_REASON),
            decision=tags.get(t.DECISION),
            decision_reason=tags.get(t.DECISION_REASON),
            archived_reason=tags.get(t.ARCHIVED_REASON) if role == "archived" else None,
            metrics=metrics,
            tags=tags,
        )


def _describe(intent: dict[str, Any]) -> str:
    op, v, old = intent.get("op"), intent.get("version"), intent.get("old")
    if op == "promote":
        return f"promote version {v} (champion was {_label(old)})"
    if op == "rollback":
        return f"roll back to version {v} (champion was {_label(old)})"
    if op == "challenger":
        return f"make version {v} challenger (challenger was {_label(old)})"
    if op == "archive":
        return f"archive version {v}"
    return f"unreadable change {intent.get('raw', intent)!r}"


def _label(version: str | None) -> str:
    return "none" if version is None else f"version {version}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
