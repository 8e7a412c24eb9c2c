"""Resolve a model URI to the concrete registered version it points at *now*.

``models:/churn@champion`` moves when a new champion is promoted; scoring pins the version once,
downloads exactly that version and records it with every prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from churn_scoring.errors import ModelNotFoundError

if TYPE_CHECKING:
    from mlflow import MlflowClient

_FIX = (
    "check the registered model name and the alias/version/stage, and that the MLflow "
    "registry URI points at the right store"
)


@dataclass(frozen=True)
class ModelRef:
    """``uri`` as given; ``download_uri`` pinned to a version when the URI is a registry one."""

    uri: str
    download_uri: str
    name: str | None = None
    version: str | None = None


def resolve_model(model_uri: str) -> ModelRef:
    """``models:/name@alias``, ``models:/name/<N|Stage|latest>`` -> (name, concrete version).

    Any other URI (``runs:/...``, ``models:/<model_id>``, a path) is used as is, without a
    registered name or version.
    """
    parsed = urlparse(model_uri)
    parts = parsed.path.lstrip("/").split("/") if parsed.scheme == "models" else []
    if len(parts) == 1 and "@" in parts[0]:
        name, alias = parts[0].rsplit("@", 1)
        version = _version_by_alias(model_uri, name, alias)
    elif len(parts) == 2 and all(parts):
        name, suffix = parts
        version = _version_by_suffix(model_uri, name, suffix)
    else:
        return ModelRef(uri=model_uri, download_uri=model_uri)
    return ModelRef(
        uri=model_uri, download_uri=f"models:/{name}/{version}", name=name, version=version
    )


def _client() -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient()


def _version_by_alias(uri: str, name: str, alias: str) -> str:
    from mlflow.exceptions import MlflowException

    try:
        return str(_client().get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        raise ModelNotFoundError(
            f"Model {uri}: registered model {name!r} has no version with alias {alias!r} "
            f"({_message(exc)}).",
            f"promote a version to {alias!r} (model-validation / model-deployment), or {_FIX}",
        ) from None


def _version_by_suffix(uri: str, name: str, suffix: str) -> str:
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        if suffix.isdigit():
            return str(client.get_model_version(name, suffix).version)
        if suffix.lower() == "latest":
            # every version, not get_latest_versions: Unity Catalog has no stages and refuses it
            stages = None
            name_literal = name.replace("'", "''")
            versions = client.search_model_versions(f"name = '{name_literal}'")
        else:
            stages = [suffix]
            versions = client.get_latest_versions(name, stages=stages)
    except MlflowException as exc:
        problem = f"Model {uri} cannot be resolved ({_message(exc)})."
        raise ModelNotFoundError(problem, _FIX) from None
    if not versions:
        where = "any version" if stages is None else f"a version in stage {suffix!r}"
        raise ModelNotFoundError(f"Model {uri}: registered model {name!r} has no {where}.", _FIX)
    return str(max(int(v.version) for v in versions))


def _message(exc: Exception) -> str:
    return str(getattr(exc, "message", None) or exc).splitlines()[0]
