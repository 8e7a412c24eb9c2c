"""The MLflow calls on one registered model, in one place.

Every write goes through `ModelStore`, which calls `before_write` first: under the registry lock
the facade sets it to the lock's `renew()`, so no write is sent without a fresh, verified lease.

Unity Catalog's `search_model_versions` returns versions without tags and aliases, so wherever
tags matter versions are fetched one by one with `get_model_version`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from churn_registry_ops import tags as t
from churn_registry_ops.errors import InvalidRegistryOperation, ModelNotFound, VersionNotFound

_GONE = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}


class ModelStore:
    def __init__(self, client: MlflowClient, model_name: str) -> None:
        self.client = client
        self.model_name = model_name
        self.before_write: Callable[[], None] | None = None

    # ------------------------------------------------------------------ reads

    def registered_model(self) -> RegisteredModel:
        try:
            return self.client.get_registered_model(self.model_name)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                raise ModelNotFound(self.model_name) from exc
            raise

    def version(self, version: str | int) -> ModelVersion:
        """One version with its tags and aliases (`get_model_version`)."""
        v = norm_version(version)
        try:
            return self.client.get_model_version(self.model_name, v)
        except MlflowException as exc:
            if exc.error_code in _GONE:
                self.registered_model()  # ModelNotFound if the model itself is missing
                raise VersionNotFound(self.model_name, v) from exc
            raise

    def search(self) -> list[ModelVersion]:
        """Search results: number, status, stage; on Unity Catalog without tags or aliases."""
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

    def version_numbers(self) -> list[str]:
        """Every version number, newest first."""
        return sorted({str(mv.version) for mv in self.search()}, key=int, reverse=True)

    def versions(self) -> Iterator[ModelVersion]:
        """Each version fetched on its own (tags and aliases included), newest first."""
        for v in self.version_numbers():
            try:
                yield self.client.get_model_version(self.model_name, v)
            except MlflowException as exc:
                if exc.error_code not in _GONE:  # deleted since the search: skip it
                    raise

    # ----------------------------------------------------------------- writes

    def _write(self) -> None:
        if self.before_write is not None:
            self.before_write()

    def set_version_tag(self, v: str, key: str, value: str) -> None:
        self._write()
        self.client.set_model_version_tag(self.model_name, v, key, t.tag_value(value))

    def delete_version_tag(self, v: str, key: str) -> None:
        self._write()
        try:
            self.client.delete_model_version_tag(self.model_name, v, key)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise

    def set_alias(self, alias: str, v: str) -> None:
        self._write()
        self.client.set_registered_model_alias(self.model_name, alias, v)

    def delete_alias(self, alias: str) -> None:
        self._write()
        try:
            self.client.delete_registered_model_alias(self.model_name, alias)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise

    def set_model_tag(self, key: str, value: str) -> None:
        self._write()
        self.client.set_registered_model_tag(self.model_name, key, value)

    def delete_model_tag(self, key: str) -> None:
        self._write()
        try:
            self.client.delete_registered_model_tag(self.model_name, key)
        except MlflowException as exc:
            if exc.error_code not in _GONE:
                raise

    def transition(self, v: str, stage: str) -> None:
        self._write()
        with _legacy_stages_api():
            self.client.transition_model_version_stage(
                self.model_name, v, stage, archive_existing_versions=False
            )


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


def norm_version(version: str | int) -> str:
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
