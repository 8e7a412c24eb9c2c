"""The FastAPI app, built from its dependencies (``create_app``): nothing global, nothing read
from the environment, so tests and the benchmark build it on whatever parts they choose.

Endpoints: ``POST /invocations`` (MLflow scoring payloads with full feature rows, or a lookup
``{"customer_id": ...}``), ``GET /health`` (the process answers), ``GET /ready`` (a model is
loaded and the online store answers), ``GET /metrics`` (Prometheus).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from churn_serving.batcher import MicroBatcher
from churn_serving.follower import ChampionFollower
from churn_serving.holder import ModelHolder, ServedModel
from churn_serving.metrics import ServingMetrics
from churn_serving.payload import FrameRequest, LookupRequest, PayloadError, parse_payload
from churn_serving.scoring import (
    NOT_FOUND,
    OK,
    BatchScorer,
    LookupUnavailableError,
    NotReadyError,
    Scored,
    ScoredBatch,
)

if TYPE_CHECKING:
    from churn_features.store.online import OnlineStore
    from churn_serving.inference_log import InferenceLog

_log = logging.getLogger("churn_serving")
JSON = "application/json"


def create_app(
    holder: ModelHolder,
    store: OnlineStore | None,
    *,
    follower: ChampionFollower | None = None,
    poll_seconds: float = 5.0,
    inference_log: InferenceLog | None = None,
    max_wait_ms: float = 2.0,
    max_batch_rows: int = 2048,
    metrics: ServingMetrics | None = None,
) -> FastAPI:
    """The service. ``follower`` (optional) is polled every ``poll_seconds`` off the event loop;
    ``inference_log`` (optional) receives every scored batch."""
    metrics = metrics or ServingMetrics()
    scorer = BatchScorer(holder, store)

    def on_batch(batch: ScoredBatch, requests: int) -> None:
        metrics.batch_rows.observe(requests)
        if inference_log is not None:
            inference_log.append(batch)

    batcher: MicroBatcher[FrameRequest | LookupRequest, Scored, ScoredBatch] = MicroBatcher(
        scorer,
        max_wait=max_wait_ms / 1000.0,
        max_rows=max_batch_rows,
        size=lambda r: len(r.keys) if isinstance(r, LookupRequest) else len(r),
        on_batch=on_batch,
    )
    if follower is not None:
        follower.on_swap = lambda served: _on_swap(metrics, served)
        follower.on_failure = lambda version, message: metrics.model_load_failures.inc()
    if (served := holder.current()) is not None:
        _on_swap(metrics, served, count=False)

    async def poll() -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(poll_seconds)
            try:
                if follower is not None:
                    await loop.run_in_executor(None, follower.check_once)
            except Exception:  # the registry is down: keep serving, try again next poll
                _log.exception("polling the registry failed")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        if inference_log is not None:
            inference_log.start()
        poller = asyncio.get_running_loop().create_task(poll())
        try:
            yield
        finally:
            poller.cancel()
            await batcher.stop()
            if inference_log is not None:
                inference_log.close()

    app = FastAPI(title="churn-serving", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        started = time.perf_counter()
        status, body = await _invoke(await request.body())
        metrics.requests.labels("invocations", str(status)).inc()
        metrics.latency.labels("invocations").observe(time.perf_counter() - started)
        return Response(json.dumps(body, allow_nan=False), status_code=status, media_type=JSON)

    async def _invoke(raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            parsed = parse_payload(raw)
            if isinstance(parsed, FrameRequest):
                _check_columns(parsed, holder)
                if not parsed.rows:
                    served = holder.current()
                    assert served is not None
                    return 200, {"predictions": [], **_version(served)}
            scored = await batcher.submit(parsed)
        except PayloadError as exc:
            metrics.errors.labels("bad_request").inc()
            return exc.status, {"error_code": exc.error_code, "message": exc.message}
        except NotReadyError:
            metrics.errors.labels("not_ready").inc()
            return 503, _error("TEMPORARILY_UNAVAILABLE", "No model is loaded yet; retry soon.")
        except LookupUnavailableError as exc:
            metrics.errors.labels("lookup_unavailable").inc()
            return 422, _error(
                "INVALID_PARAMETER_VALUE",
                f"The lookup form cannot be served: {exc}. Send full feature rows instead.",
            )
        except Exception as exc:
            from churn_features.errors import OnlineStoreError

            if isinstance(exc, OnlineStoreError):
                metrics.errors.labels("online_store").inc()
                return 503, _error("TEMPORARILY_UNAVAILABLE", str(exc))
            metrics.errors.labels("internal").inc()
            _log.exception("scoring failed")
            return 500, _error("INTERNAL_ERROR", f"Scoring failed ({type(exc).__name__}).")
        return _answer(parsed, scored, metrics)

    @app.get("/health")
    async def health() -> Response:
        return Response(json.dumps({"status": "ok"}), media_type=JSON)

    @app.get("/ready")
    async def ready() -> Response:
        served = holder.current()
        problems = [] if served is not None else ["no model loaded"]
        freshness: dict[str, Any] = {}
        if store is not None and served is not None and served.model.feature_spec is not None:
            try:
                freshness = await asyncio.get_running_loop().run_in_executor(
                    None, _freshness, store, served, metrics
                )
            except Exception as exc:
                problems.append(f"online store: {exc}")
        failure = holder.last_failure
        body: dict[str, Any] = {
            "ready": not problems,
            "problems": problems,
            "model": _version(served) if served else None,
            "features": freshness,
            "last_load_failure": None
            if failure is None
            else {"version": failure.version, "message": failure.message, "at": str(failure.at)},
        }
        return Response(json.dumps(body), status_code=200 if not problems else 503, media_type=JSON)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        served = holder.current()
        if store is not None and served is not None and served.model.feature_spec is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, _freshness, store, served, metrics
                )
            except Exception:
                metrics.errors.labels("online_store").inc()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


def _check_columns(request: FrameRequest, holder: ModelHolder) -> None:
    served = holder.current()
    if served is None:
        raise NotReadyError
    missing = [c for c in served.model.feature_names if c not in request.columns]
    if missing:
        raise PayloadError(
            f"The rows lack the feature column(s) {missing}; model {served.name} "
            f"v{served.version} consumes {served.model.feature_names}. Send every feature "
            "column, or look customers up with {'customer_id': [...]}.",
            status=422,
            error_code="INVALID_PARAMETER_VALUE",
        )


def _answer(
    request: FrameRequest | LookupRequest, scored: Scored, metrics: ServingMetrics
) -> tuple[int, dict[str, Any]]:
    served = scored.served
    threshold = served.model.threshold
    probabilities = scored.probabilities.tolist()
    if isinstance(request, FrameRequest):
        if scored.reasons and scored.reasons[0] is not None:
            return 422, {
                "error_code": "INVALID_PARAMETER_VALUE",
                "message": f"The rows lack {scored.reasons[0]}, which model {served.name} "
                f"v{served.version} consumes.",
                **_version(served),
            }
        metrics.rows.labels(OK).inc(len(probabilities))
        values: list[Any] = (
            [int(p >= threshold) for p in probabilities]
            if request.output == "label"
            else probabilities
        )
        return 200, {"predictions": values, **_version(served)}
    rows = []
    for key, p, reason in zip(request.keys, probabilities, scored.reasons, strict=True):
        if reason is None:
            row: dict[str, Any] = {
                "customer_id": key,
                "status": OK,
                "churn_probability": p,
                "churn_prediction": int(p >= threshold),
            }
        else:
            row = {
                "customer_id": key,
                "status": NOT_FOUND,
                "message": f"customer {key!r} is not in the online feature store",
            }
        rows.append(row)
    found = sum(1 for r in scored.reasons if r is None)
    metrics.rows.labels(OK).inc(found)
    metrics.rows.labels(NOT_FOUND).inc(len(rows) - found)
    if request.single:
        row = rows[0]
        if row["status"] != OK:
            return 404, {
                "error_code": "RESOURCE_DOES_NOT_EXIST",
                "message": f"{row['message']}; publish the feature table "
                "(feature-publish) or check the id",
                **row,
                **_version(served),
            }
        return 200, {**row, **_version(served)}
    return 200, {"predictions": rows, **_version(served)}


def _version(served: ServedModel) -> dict[str, str]:
    return {"model_name": served.name, "model_version": served.version}


def _error(code: str, message: str) -> dict[str, str]:
    return {"error_code": code, "message": message}


def _on_swap(metrics: ServingMetrics, served: ServedModel, *, count: bool = True) -> None:
    metrics.model_version.clear()
    metrics.model_version.labels(served.name).set(float(served.version))
    if count:
        metrics.model_swaps.inc()


def _freshness(store: OnlineStore, served: ServedModel, metrics: ServingMetrics) -> dict[str, Any]:
    spec = served.model.feature_spec
    assert spec is not None
    out: dict[str, Any] = {}
    for lookup in spec.lookups:
        published = store.published_version(lookup.table_name)
        if published is None:
            out[lookup.table_name] = None
            raise RuntimeError(f"{lookup.table_name} was never published (run feature-publish)")
        age = (datetime.now(UTC) - published.published_at).total_seconds()
        metrics.feature_version.labels(lookup.table_name).set(published.source_version)
        metrics.feature_age.labels(lookup.table_name).set(max(0.0, age))
        out[lookup.table_name] = {
            "version": published.source_version,
            "published_at": published.published_at.isoformat(),
            "rows": published.rows_total,
            "age_seconds": math.floor(age),
        }
    return out
