"""Online serving: churn-serving vs ``mlflow models serve`` on the same model version, same run.

Models: the RF depth-8 champion (packages/churn-model/configs/random_forest_depth8.yaml) and the
recommended model (recommended.yaml), trained on the real feature table (read from the local
online store) and the vendored labels, logged with churn-model and registered in a throwaway
SQLite MLflow store. The online store is the local PostgreSQL under CHURN_HOME (started, and
published once with `churn run feature-publish` if it holds nothing).

Per model, side by side, both servers on 127.0.0.1, one process each (uvicorn single worker;
``mlflow models serve --env-manager local`` with its default worker count):

- **ours, lookup**: ``{"customer_id": "<id>"}`` single-customer requests at 50 and 200 concurrent
  clients (features from PostgreSQL by the model's feature spec, micro-batched predict);
- **ours, full rows** and **mlflow, full rows**: a one-row ``dataframe_split`` payload with every
  feature (mlflow cannot look features up) at 50 and 200 clients;
- **100-row batches**: ``dataframe_split`` of 100 rows to both, and ours as a 100-id lookup, at 8
  clients.

The load generator is an aiohttp driver in this process: each client sends its next request
when the previous one is answered; a phase ends after ``--requests`` responses or ``--seconds``,
whichever first. Reported: throughput (responses/s), p50/p99 latency, errors, and the peak RSS of
each server's process tree (psutil, every 0.25 s). Each server first gets a ``ceiling`` phase
(``GET /health`` or ``/ping`` at 50 clients): what client and server on this machine can do with
no work. Goal (issue 14): >= 3x mlflow's throughput at equal p99, and p99 <= 25 ms for a
single-customer lookup at 50 clients. With closed-loop clients latency is clients / throughput
(Little's law): 25 ms at 50 clients needs 2,000 answers/s, about the no-op ceiling on 2 shared
cores, so the ``@1`` phases report the latency of one request without queueing beside it.

    uv run python benchmarks/serving.py --out .churn/bench/serving.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]

MODEL = "churn_bench_serving"
CONFIGS = {
    "rf_depth8": REPO / "packages/churn-model/configs/random_forest_depth8.yaml",
    "recommended": REPO / "packages/churn-model/configs/recommended.yaml",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def online_store_uri(home: Path) -> str:
    """The local store's connection string; published with the real feature table if empty."""
    from churn_jobs.online_store import LocalOnlineStore

    store = LocalOnlineStore(home)
    store.start()
    client = store.client()
    published = client.published_version("churn.churn_features")
    client.close()
    if published is None:
        env = {**os.environ, "CHURN_HOME": str(home)}
        for job in ("feature-table-refresh", "feature-publish"):
            subprocess.run(
                [sys.executable, "-c", "from churn_jobs.cli import main; main()", "run", job],
                env=env,
                check=True,
            )
    return store.uri()


def training_frame(store_uri: str) -> tuple[Any, Any]:
    """Features from the online store (the published feature table) + vendored labels."""
    import pandas as pd
    import psycopg

    from churn_features.dataset import vendored_csv_path

    with psycopg.connect(store_uri) as conn:
        cur = conn.execute("SELECT * FROM churn.churn_features ORDER BY customer_id")
        columns = [d.name for d in cur.description or []]
        features = pd.DataFrame(cur.fetchall(), columns=columns)
    raw = pd.read_csv(vendored_csv_path(), usecols=["customerID", "Churn"])
    labels = features["customer_id"].map(
        dict(zip(raw["customerID"], raw["Churn"] == "Yes", strict=True))
    )
    return features, labels.astype("int64")


def register_models(tracking_uri: str, features: Any, labels: Any) -> dict[str, str]:
    import mlflow

    from churn_model import FeatureSpec, load_model_config, log_model, train

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment("bench-serving")
    versions = {}
    for name, path in CONFIGS.items():
        config = load_model_config(path)
        result = train(features, labels, config)
        spec = FeatureSpec.for_table("churn.churn_features", config.features.columns)
        with mlflow.start_run(run_name=name):
            info = log_model(
                result.pipeline,
                config,
                feature_spec=spec,
                input_example=features.head(5),
                registered_model_name=MODEL,
            )
        versions[name] = str(info.registered_model_version)
    return versions


class PeakRss:
    """Peak RSS (MiB) of one process and its children, sampled with psutil every 0.25 s (cheap:
    walking all of /proc would steal the load generator's CPU on a busy machine)."""

    def __init__(self, pid: int) -> None:
        import threading

        import psutil

        self.process = psutil.Process(pid)
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(0.25):
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs)
            except psutil.Error:
                continue
            self.peak_mib = max(self.peak_mib, rss / 2**20)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def server(command: list[str], port: int, env: dict[str, str], ready_path: str):
    """A server subprocess on 127.0.0.1:port, waited for until ``ready_path`` answers 200."""
    import httpx

    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 900  # mlflow's import + model load is slow on a busy machine
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {process.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not become ready")
            time.sleep(0.5)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def drive(
    url: str, bodies: list[bytes] | None, clients: int, requests: int, seconds: float
) -> dict[str, Any]:
    """``clients`` concurrent closed-loop clients (POST ``bodies``, or GET when None); ends after
    ``requests`` answers or ``seconds``. Latency per request in ms, throughput over the phase.

    aiohttp, not httpx: httpx's async client tops out near 80 requests/s at 50 connections on
    this machine (a GET /health answered in microseconds), so it measured itself; aiohttp drives
    the same endpoint at ~3,600/s. The ``ceiling`` phase reports that bound for every run."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    sent = 0
    headers = {"Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call(body: bytes | None) -> bool:
            method, sent_headers = ("GET", None) if body is None else ("POST", headers)
            async with session.request(method, url, data=body, headers=sent_headers) as response:
                await response.read()
                return response.status == 200

        # warm-up: connections open and the model warm, untimed
        await asyncio.gather(
            *(call(bodies[i % len(bodies)] if bodies else None) for i in range(clients))
        )
        stop_at = time.perf_counter() + seconds

        async def one_client(offset: int) -> None:
            nonlocal errors, sent
            i = offset
            while sent < requests and time.perf_counter() < stop_at:
                sent += 1
                body = bodies[i % len(bodies)] if bodies else None
                i += clients
                started = time.perf_counter()
                try:
                    ok = await call(body)
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(one_client(c) for c in range(clients)))
        wall = time.perf_counter() - began
    lat = np.array(latencies)
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "seconds": round(wall, 2),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
    }


def payloads(features: Any, columns: list[str], rows: int, count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        picked = features.iloc[rng.choice(len(features), rows, replace=False)]
        split = {"columns": columns, "data": picked[columns].to_numpy().tolist()}
        out.append(json.dumps({"dataframe_split": split}, default=_json).encode())
    return out


def lookups(features: Any, rows: int, count: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    ids = features["customer_id"].to_numpy()
    out = []
    for _ in range(count):
        picked = ids[rng.choice(len(ids), rows, replace=False)].tolist()
        out.append(json.dumps({"customer_id": picked[0] if rows == 1 else picked}).encode())
    return out


def _json(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(type(value).__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=REPO / ".churn")
    parser.add_argument("--requests", type=int, default=4000, help="per phase, at most")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase, at most")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    home = args.home.resolve()
    store_uri = online_store_uri(home)
    features, labels = training_frame(store_uri)
    work = Path(tempfile.mkdtemp(prefix="churn-bench-serving-"))
    tracking = f"sqlite:///{work / 'mlflow.db'}"
    versions = register_models(tracking, features, labels)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking,
        "MLFLOW_REGISTRY_URI": tracking,
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }
    from mlflow import MlflowClient

    client = MlflowClient(tracking, tracking)
    bin_dir = Path(sys.executable).parent
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "requests_per_phase_max": args.requests,
        "seconds_per_phase_max": args.seconds,
        "models": {},
    }
    from churn_model.contract import DEFAULT_CATEGORICAL_FEATURES, DEFAULT_NUMERIC_FEATURES

    columns = [*DEFAULT_NUMERIC_FEATURES, *DEFAULT_CATEGORICAL_FEATURES]
    single_rows = payloads(features, columns, 1, 500)
    batch_rows = payloads(features, columns, 100, 50)
    single_ids = lookups(features, 1, 2000)
    batch_ids = lookups(features, 100, 50)

    for name, version in versions.items():
        client.set_registered_model_alias(MODEL, "champion", version)
        ours_port, mlflow_port = free_port(), free_port()
        ours_cmd = [
            str(bin_dir / "churn-serving"),
            "--tracking-uri", tracking, "--model-name", MODEL, "--store-uri", store_uri,
            "--inference-log", str(work / f"log-{name}"), "--port", str(ours_port),
        ]  # fmt: skip
        mlflow_cmd = [
            str(bin_dir / "mlflow"), "models", "serve", "-m", f"models:/{MODEL}/{version}",
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
        ]  # fmt: skip
        model_result: dict[str, Any] = {"version": version}
        print(f"== {name} (version {version})", flush=True)
        for label, command, port, ready in (
            ("ours", ours_cmd, ours_port, "/ready"),
            ("mlflow", mlflow_cmd, mlflow_port, "/ping"),
        ):
            with server(command, port, env, ready) as process:
                url = f"http://127.0.0.1:{port}/invocations"
                phases: dict[str, Any] = {}
                health = "/health" if label == "ours" else "/ping"
                # ceiling: the same driver on a no-op endpoint, the most this machine (client
                # and server on 2 cores) can show at 50 clients; @1: latency without queueing.
                plan: list[tuple[str, list[bytes] | None, int]] = [("ceiling", None, 50)]
                plan += [("full_row", single_rows, c) for c in (1, 50, 200)]
                plan.append(("batch100_rows", batch_rows, 8))
                if label == "ours":
                    plan[1:1] = [("lookup", single_ids, c) for c in (1, 50, 200)]
                    plan.append(("batch100_lookup", batch_ids, 8))
                with PeakRss(process.pid) as peak:
                    for phase, bodies, clients in plan:
                        target = f"http://127.0.0.1:{port}{health}" if bodies is None else url
                        measured = asyncio.run(
                            drive(target, bodies, clients, args.requests, args.seconds)
                        )
                        phases[f"{phase}@{clients}"] = measured
                        print(f"  {label:6} {phase:16} @{clients:<3} {measured}", flush=True)
                phases["peak_rss_mib"] = round(peak.peak_mib, 1)
                print(f"  {label:6} peak RSS {peak.peak_mib:.0f} MiB", flush=True)
                model_result[label] = phases
        for key in ("full_row@50", "full_row@200", "batch100_rows@8"):
            model_result.setdefault("ratios", {})[key] = round(
                model_result["ours"][key]["throughput_rps"]
                / model_result["mlflow"][key]["throughput_rps"],
                2,
            )
        for key in ("lookup@50", "lookup@200"):
            ref = key.replace("lookup", "full_row")
            model_result["ratios"][f"{key}_vs_mlflow_{ref}"] = round(
                model_result["ours"][key]["throughput_rps"]
                / model_result["mlflow"][ref]["throughput_rps"],
                2,
            )
        model_result["goal_lookup_p99_le_25ms_at_50"] = (
            model_result["ours"]["lookup@50"]["p99_ms"] <= 25.0
        )
        model_result["lookup_p99_at_1_ms"] = model_result["ours"]["lookup@1"]["p99_ms"]
        results["models"][name] = model_result
        print(json.dumps(model_result["ratios"]), flush=True)

    shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
