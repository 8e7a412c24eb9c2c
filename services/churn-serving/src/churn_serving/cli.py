"""``churn-serving``: run the service against a given registry and online store.

Locally, ``churn serve`` (churn-jobs) is simpler: it starts the store, publishes and finds the
local MLflow store by itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from churn_serving.server import ServeConfig, ServingSetupError, serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="churn-serving", description=__doc__)
    parser.add_argument("--tracking-uri", required=True, help="MLflow tracking URI")
    parser.add_argument("--registry-uri", help="MLflow registry URI (default: tracking URI)")
    parser.add_argument("--model-name", required=True, help="registered model name")
    parser.add_argument("--registry-mode", choices=["aliases", "stages"], default="aliases")
    parser.add_argument("--store-uri", help="PostgreSQL connection string of the online store")
    parser.add_argument("--inference-log", type=Path, help="directory of the inference log")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--poll-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    config = ServeConfig(
        tracking_uri=args.tracking_uri,
        registry_uri=args.registry_uri,
        model_name=args.model_name,
        registry_mode=args.registry_mode,
        store_uri=args.store_uri,
        inference_log_dir=args.inference_log,
        host=args.host,
        port=args.port,
        poll_seconds=args.poll_seconds,
    )
    try:
        serve(config)
    except ServingSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
