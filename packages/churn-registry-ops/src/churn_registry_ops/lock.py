"""A lease-based lock for changes to one registered model, kept in the MLflow registry itself.

MLflow has no compare-and-set on aliases, stages or tags, but creating a registered model is
create-if-absent: the SQL store rejects a duplicate name through its primary key, and Databricks
(workspace registry and Unity Catalog) answers RESOURCE_ALREADY_EXISTS. So the lock is a
registered model `<model>__churn_lock` that exists while someone holds it.

What is guaranteed, exactly:
- **One holder.** The lock model's `churn_lock_owner` tag names its holder (host, pid, thread and a
  random token). A create that MLflow retried after it had in fact succeeded is recognised by that
  tag and counted as ours.
- **Every write is made under a fresh lease.** `ModelRegistry` calls `renew()` right before each
  registry write: it re-reads the lock, checks it is still ours, and extends the lease (the
  registry stamps the lock's `last_updated_timestamp`). A run that lost the lock stops with
  `ConcurrentRegistryChange` before writing. Not guaranteed: a write already sent whose request
  the MLflow client keeps retrying (429/5xx) for longer than the lease can land after the lease
  ended; keep the lease above the client's worst-case request time (MLflow's
  `MLFLOW_HTTP_REQUEST_TIMEOUT` x retries), which `max_lease_seconds` bounds from above.
- **Expiry on the registry's clock.** A lock is stale when the registry's `last_updated_timestamp`
  plus its lease lies in the past. The lease comes from the lock's own tag, capped at
  `max_lease_seconds`; a lock without a readable tag (created by hand, or a crash between create
  and tag) gets the default lease. Only the skew between the waiter's clock and the registry's
  matters (never two holders' clocks); keep the lease far above it.
- **Stale-breaking and release delete only the lock instance they judged.** The instance is
  identified by its `creation_timestamp` and owner, re-read right before deleting. MLflow has no
  conditional delete, so one round trip remains between that read and the delete; a successor
  whose lock disappears in that window finds out at its next `renew()` and stops before writing.
- **Waiting always sleeps** (`poll_seconds`) and honours `wait_seconds`, whatever the lock holds.

Permissions: acquiring needs permission to create registered models next to the model (Unity
Catalog: USE SCHEMA + CREATE MODEL on the schema, for every principal that changes the registry:
jobs and operators). Breaking a stale lock needs permission to delete it (its owner, or MANAGE on
it); a PERMISSION_DENIED is reported as such (`RegistryLockPermission`), never taken for "gone".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from churn_registry_ops import tags as t
from churn_registry_ops.errors import ConcurrentRegistryChange, RegistryLocked, RegistryOpsError

_log = logging.getLogger(__name__)

_TAKEN = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}
_GONE = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}
_DENIED = {"PERMISSION_DENIED", "UNAUTHORIZED", "FORBIDDEN"}


def lock_name_for(model_name: str) -> str:
    # suffixing the last name part keeps Unity Catalog's catalog.schema.model shape
    return f"{model_name}__churn_lock"


class RegistryLockPermission(RegistryOpsError):  # noqa: N818
    def __init__(self, lock_name: str, action: str, detail: str) -> None:
        super().__init__(
            f"Not allowed to {action} the registry lock '{lock_name}': {detail}. The lock is a "
            "registered model next to the churn model: every principal that changes the registry "
            "needs CREATE MODEL on its schema, and deleting a stale lock created by another "
            f"principal needs MANAGE on '{lock_name}' (or delete it as its owner)."
        )


@dataclass(frozen=True)
class LockInstance:
    """One observed incarnation of the lock model."""

    owner: str | None
    operation: str | None
    created_ms: int
    updated_ms: int
    lease_seconds: float
    released: bool

    def expires_at(self) -> float:
        """Epoch seconds, on the registry's clock."""
        return self.updated_ms / 1000 + self.lease_seconds

    def describe(self, now: float) -> str:
        return (
            f"owner {self.owner or '?'}, operation {self.operation or '?'}, "
            f"lease ends in {self.expires_at() - now:.0f} s"
        )


class RegistryLock:
    """Context manager: `with RegistryLock(client, "churn_model", operation="promote"): ...`."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        *,
        operation: str = "change",
        lease_seconds: float = 120.0,
        max_lease_seconds: float = 600.0,
        wait_seconds: float = 30.0,
        poll_seconds: float = 0.2,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.name = lock_name_for(model_name)
        self.operation = operation
        self.lease_seconds = min(lease_seconds, max_lease_seconds)
        self.max_lease_seconds = max_lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = max(poll_seconds, 0.01)
        self._clock = clock
        self._sleep = sleep
        self.owner = (
            f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
        )
        self.held = False
        self._created_ms: int | None = None

    def __enter__(self) -> RegistryLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    # ------------------------------------------------------------------ public

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if self._try_create():
                self.held = True
                return
            current = self._read()
            if current is not None and current.owner == self.owner:
                self._took(current)  # our create succeeded although MLflow reported a clash
                return
            if current is not None and self.is_stale(current) and self._break_stale(current):
                continue  # a stale instance is gone: try to create at once (bounded: each
                # retry needs another stale instance, which only a lease's end makes)
            if time.monotonic() >= deadline:
                who = "unknown holder" if current is None else current.describe(self._clock())
                raise RegistryLocked(self.model_name, self.name, who, self.wait_seconds)
            self._sleep(self.poll_seconds)

    def renew(self) -> None:
        """Check the lock is still ours and extend its lease; call right before each write.

        The registry has no compare-and-set, so the lock is checked before and after the lease
        update: a lock broken and retaken in between (the update then fails on the vanished row,
        or lands on the new holder's lock) is a lost lock too, never a raw registry error."""
        self._require_ours()
        try:
            self.client.update_registered_model(self.name, description=self._description())
        except MlflowException:
            self._require_ours()  # taken over while we wrote: say so
            raise
        self._require_ours()

    def _require_ours(self) -> None:
        current = self._read()
        if not self.held or current is None or current.owner != self.owner:
            self.held = False
            who = "nobody" if current is None else current.describe(self._clock())
            raise ConcurrentRegistryChange(
                self.model_name,
                f"this run lost the registry lock '{self.name}' (now held by {who}); "
                "its lease expired before the change was written",
            )

    verify = renew

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        current = self._read()
        if current is None or current.owner != self.owner:
            _log.warning("registry lock %s was taken over before release; leaving it", self.name)
            return
        self._delete(current, action="release")

    def is_stale(self, lock: LockInstance) -> bool:
        return lock.released or lock.expires_at() < self._clock()

    # --------------------------------------------------------------- internals

    def _took(self, lock: LockInstance) -> None:
        self.held = True
        self._created_ms = lock.created_ms

    def _description(self) -> str:
        return (
            f"Lock held by churn-registry-ops while changing '{self.model_name}' "
            f"({self.operation}, {self.owner}). It is stale {self.lease_seconds:.0f} s after its "
            "last update; a stale lock is broken by the next operation, or may be deleted by hand."
        )

    def _try_create(self) -> bool:
        tags = {
            t.LOCK_OWNER: self.owner,
            t.LOCK_LEASE: f"{self.lease_seconds:g}",
            t.LOCK_OPERATION: self.operation,
            t.LOCK_FOR: self.model_name,
        }
        try:
            rm = self.client.create_registered_model(
                self.name, tags=tags, description=self._description()
            )
        except MlflowException as exc:
            # GONE: the SQL store re-reads the clashing row, which its holder may just have deleted
            if exc.error_code in _TAKEN or exc.error_code in _GONE:
                return False
            if exc.error_code in _DENIED:
                raise RegistryLockPermission(self.name, "create", exc.message) from None
            raise
        self._created_ms = int(rm.creation_timestamp or 0)
        return True

    def _read(self) -> LockInstance | None:
        try:
            rm = self.client.get_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                return None
            raise
        tags = dict(rm.tags or {})
        try:
            lease = float(tags.get(t.LOCK_LEASE, ""))
        except ValueError:
            lease = self.lease_seconds  # missing or unparsable: the default lease
        if not lease > 0:
            lease = self.lease_seconds
        return LockInstance(
            owner=tags.get(t.LOCK_OWNER),
            operation=tags.get(t.LOCK_OPERATION),
            created_ms=int(rm.creation_timestamp or 0),
            updated_ms=int(rm.last_updated_timestamp or rm.creation_timestamp or 0),
            lease_seconds=min(lease, self.max_lease_seconds),
            released=tags.get(t.LOCK_RELEASED) == "true",
        )

    def _break_stale(self, stale: LockInstance) -> bool:
        """Delete the lock if it is still the stale instance observed; True if deleted."""
        current = self._read()
        if (
            current is None
            or current.created_ms != stale.created_ms
            or current.owner != stale.owner
            or not self.is_stale(current)
        ):
            return False  # released, re-taken or renewed meanwhile: just retry
        _log.warning(
            "breaking expired registry lock %s (%s)", self.name, current.describe(self._clock())
        )
        self._delete(current, action="break the stale")
        return True

    def _delete(self, instance: LockInstance, *, action: str) -> None:
        try:
            self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                return
            if exc.error_code in _DENIED:
                raise RegistryLockPermission(
                    self.name, f"{action} (owner {instance.owner or '?'})", exc.message
                ) from None
            raise
