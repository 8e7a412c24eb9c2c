"""A lease-based lock for changes to one registered model, kept in the MLflow registry itself.

MLflow has no compare-and-set on aliases, stages or tags, but creating a registered model is
create-if-absent: the SQL store rejects a duplicate name through its primary key, and Databricks
(workspace registry and Unity Catalog) answers RESOURCE_ALREADY_EXISTS. So the lock is a
registered model `<model>__churn_lock` that exists while someone holds it; its tags name the owner
and the lease expiry. Releasing deletes it.

Remaining races, honestly:
- A holder that dies leaves the lock until its lease expires (default 120 s); the next acquirer
  breaks it. Two acquirers breaking the same stale lock at the same moment can both succeed: the
  owner is re-read just before deleting, which narrows but does not close that window.
- A holder that runs past its lease can lose the lock; `verify()` is called right before each
  registry write so it stops instead of writing, but a write already in flight is not undone.
- Expiry compares wall clocks of different machines: keep the lease far above clock skew.
Acquiring needs permission to create registered models next to the model (Unity Catalog:
CREATE MODEL on the schema).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from churn_registry_ops.errors import ConcurrentRegistryChange, RegistryLocked

_log = logging.getLogger(__name__)

OWNER_TAG = "churn_lock_owner"
EXPIRES_TAG = "churn_lock_expires_at"
OPERATION_TAG = "churn_lock_operation"
FOR_TAG = "churn_lock_for"

_TAKEN = {"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"}
_GONE = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


def lock_name_for(model_name: str) -> str:
    # suffixing the last name part keeps Unity Catalog's catalog.schema.model shape
    return f"{model_name}__churn_lock"


class RegistryLock:
    """Context manager: `with RegistryLock(client, "churn_model", operation="promote"): ...`."""

    def __init__(
        self,
        client: MlflowClient,
        model_name: str,
        *,
        operation: str = "change",
        lease_seconds: float = 120.0,
        wait_seconds: float = 30.0,
        poll_seconds: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.model_name = model_name
        self.name = lock_name_for(model_name)
        self.operation = operation
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._clock = clock
        self.owner = (
            f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"
        )
        self.held = False

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

    def acquire(self) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            if self._try_create():
                self.held = True
                return
            holder = self._read()
            if holder is not None and float(holder.get(EXPIRES_TAG, "0")) < self._clock():
                self._break_stale(holder.get(OWNER_TAG, ""))
                continue
            if time.monotonic() >= deadline:
                who = "unknown holder" if holder is None else _describe(holder)
                raise RegistryLocked(self.model_name, self.name, who, self.wait_seconds)
            time.sleep(self.poll_seconds)

    def verify(self) -> None:
        """Raise if this lock is no longer ours (lease expired and someone else took it)."""
        holder = self._read()
        if not self.held or holder is None or holder.get(OWNER_TAG) != self.owner:
            who = "nobody" if holder is None else _describe(holder)
            raise ConcurrentRegistryChange(
                self.model_name,
                f"this run lost the registry lock '{self.name}' (now held by {who}); "
                "its lease expired before the change was written",
            )

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        holder = self._read()
        if holder is None or holder.get(OWNER_TAG) != self.owner:
            _log.warning("registry lock %s was taken over before release; leaving it", self.name)
            return
        try:
            self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise

    def _try_create(self) -> bool:
        now = self._clock()
        tags = {
            OWNER_TAG: self.owner,
            EXPIRES_TAG: f"{now + self.lease_seconds:.3f}",
            OPERATION_TAG: self.operation,
            FOR_TAG: self.model_name,
        }
        try:
            self.client.create_registered_model(
                self.name,
                tags=tags,
                description=(
                    f"Lock held by churn-registry-ops while changing '{self.model_name}'. "
                    f"Safe to delete once past its {EXPIRES_TAG} tag (epoch seconds)."
                ),
            )
        except MlflowException as exc:
            # GONE: the SQL store re-reads the clashing row, which its holder may just have deleted
            if exc.error_code in _TAKEN or exc.error_code in _GONE:
                return False
            raise
        return True

    def _read(self) -> dict[str, str] | None:
        try:
            return dict(self.client.get_registered_model(self.name).tags)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                return None
            raise

    def _break_stale(self, stale_owner: str) -> None:
        current = self._read()
        if current is None or current.get(OWNER_TAG) != stale_owner:
            return  # already broken or re-taken by someone else: just retry
        _log.warning("breaking expired registry lock %s held by %s", self.name, stale_owner)
        try:
            self.client.delete_registered_model(self.name)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise


def _describe(tags: dict[str, str]) -> str:
    expires = float(tags.get(EXPIRES_TAG, "0"))
    left = expires - time.time()
    return (
        f"owner {tags.get(OWNER_TAG, '?')}, operation {tags.get(OPERATION_TAG, '?')}, "
        f"lease ends in {left:.0f} s"
    )
