"""Wire the service to a real registry and online store, and run it with uvicorn.

The caller (``churn serve`` in churn-jobs, or the ``churn-serving`` script) says where things
are; this module configures MLflow for the process, loads the champion, and serves on the given
host (127.0.0.1 by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import FastAPI

from churn_serving.app import create_app
from churn_serving.follower import ChampionFollower
from churn_serving.holder import ModelHolder
from churn_serving.registry import ChampionSource


class ServingSetupError(Exception):
    """The service cannot start as configured; the message names the fix."""


@dataclass(frozen=True)
class ServeConfig:
    tracking_uri: str
    model_name: str
    store_uri: str | None
    registry_uri: str | None = None
    registry_mode: Literal["aliases", "stages"] = "aliases"
    inference_log_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    poll_seconds: float = 5.0
    max_wait_ms: float = 2.0


def build_app(config: ServeConfig) -> FastAPI:
    """Everything but the HTTP server: the champion loaded, the store connected."""
    import mlflow

    from churn_features.store.postgres import PostgresOnlineStore
    from churn_serving.inference_log import InferenceLog

    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.registry_uri or config.tracking_uri)
    source = ChampionSource(mlflow.MlflowClient(), config.model_name, config.registry_mode)
    version = source.champion_version()
    if version is None:
        role = "alias 'champion'" if config.registry_mode == "aliases" else "stage Production"
        raise ServingSetupError(
            f"Registered model {config.model_name!r} has no champion ({role}). "
            "Fix: train, validate and promote one (`churn demo`, or `churn promote --version N`)"
        )
    holder = ModelHolder(source.load(version))
    follower = ChampionFollower(holder, source.champion_version, source.load)
    store = PostgresOnlineStore(config.store_uri) if config.store_uri else None
    log = InferenceLog(config.inference_log_dir) if config.inference_log_dir else None
    return create_app(
        holder,
        store,
        follower=follower,
        poll_seconds=config.poll_seconds,
        inference_log=log,
        max_wait_ms=config.max_wait_ms,
    )


def serve(config: ServeConfig) -> None:
    import uvicorn

    app = build_app(config)
    # Keep-alive longer than clients and load balancers keep idle connections (uvicorn's 5 s
    # default makes a client that reuses a connection just as it is closed see a reset).
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=75,
    )
