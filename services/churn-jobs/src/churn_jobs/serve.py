"""``churn serve``: the online service on the local environment, from nothing.

Starts the local online store if it is not running, publishes the feature table if the store
holds nothing yet (in a child process: the serving process never starts a JVM), finds the local
MLflow store, and runs churn-serving on 127.0.0.1. The inference log goes to
``CHURN_HOME/inference-log``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from churn_jobs.environments import load_runtime_settings
from churn_jobs.errors import UserError
from churn_jobs.local_platform import LocalPlatform
from churn_jobs.online_store import LocalOnlineStore

INFERENCE_LOG_DIR = "inference-log"


def serve_local(
    env: str,
    home: Path,
    console: Console,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    poll_seconds: float = 5.0,
) -> None:
    from churn_serving.server import ServeConfig, ServingSetupError, serve

    runtime = load_runtime_settings(env)
    if runtime.platform != "local":
        raise UserError(
            f"`churn serve` runs the service locally; environment {env!r} is on Databricks, "
            "where Model Serving serves the champion.",
            "use --env local",
        )
    store = LocalOnlineStore(home)
    status = store.start()
    console.print(f"online store: {status.uri}")
    features = runtime.table(runtime.tables.features)
    client = store.client()
    try:
        published = client.published_version(features)
    finally:
        client.close()
    if published is None:
        console.print(f"the online store holds no {features} yet: running feature-publish")
        _publish(env, home)
    else:
        console.print(f"{features}: version {published.source_version} online")
    platform = LocalPlatform(home)
    config = ServeConfig(
        tracking_uri=platform.configure_mlflow(),
        model_name=runtime.registered_model_name,
        registry_mode=runtime.registry_mode,
        store_uri=status.uri,
        inference_log_dir=home / INFERENCE_LOG_DIR,
        host=host,
        port=port,
        poll_seconds=poll_seconds,
    )
    console.print(f"serving {runtime.registered_model_name} (champion) on http://{host}:{port}")
    try:
        serve(config)
    except ServingSetupError as exc:
        raise UserError(str(exc).split(" Fix: ")[0], _fix(str(exc))) from None


def _publish(env: str, home: Path) -> None:
    code = "from churn_jobs.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "run", "feature-publish", "--env", env],
        env={**os.environ, "CHURN_HOME": str(home)},
        check=False,
    )
    if result.returncode != 0:
        raise UserError(
            "Publishing the feature table to the online store failed (see above).",
            "run `churn run feature-table-refresh` first, then `churn serve` again",
        )


def _fix(message: str) -> str:
    return message.split(" Fix: ", 1)[1] if " Fix: " in message else "see the message"
