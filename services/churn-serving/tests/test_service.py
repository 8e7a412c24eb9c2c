"""The service over real HTTP (uvicorn on 127.0.0.1), real PostgreSQL and a real MLflow registry."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
from conftest import MODEL, TABLE, ServerThread, set_champion

from churn_features.store.postgres import PostgresOnlineStore
from churn_model.mlflow_model import load_pipeline
from churn_serving.app import create_app
from churn_serving.follower import ChampionFollower
from churn_serving.holder import ModelHolder
from churn_serving.inference_log import InferenceLog
from churn_serving.payload import FrameRequest, LookupRequest
from churn_serving.registry import ChampionSource
from churn_serving.scoring import BatchScorer, LookupUnavailableError


@pytest.fixture
def source(mlflow_uri: str) -> ChampionSource:
    import mlflow

    return ChampionSource(mlflow.MlflowClient(), MODEL)


@pytest.fixture
def service(
    versions: dict[str, str], published: str, source: ChampionSource, log_dir: Path
) -> Iterator[ServerThread]:
    set_champion(versions["forest"])
    holder = ModelHolder(source.load(versions["forest"]))
    follower = ChampionFollower(holder, source.champion_version, source.load)
    app = create_app(
        holder,
        PostgresOnlineStore(published),
        follower=follower,
        poll_seconds=0.2,
        inference_log=InferenceLog(log_dir, flush_seconds=0.2),
        max_wait_ms=5,
    )
    with ServerThread(app) as server:
        yield server


def post(server: ServerThread, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/invocations", content=json.dumps(body), timeout=30)


def expected(
    customers: tuple[pd.DataFrame, pd.Series], version: str, ids: list[str]
) -> list[float]:
    frame = customers[0].set_index("customer_id").loc[ids].reset_index()
    return list(load_pipeline(f"models:/{MODEL}/{version}").predict_proba(frame))


def test_single_lookup_scores_the_champion_on_online_features(
    service: ServerThread, customers: tuple[pd.DataFrame, pd.Series], versions: dict[str, str]
) -> None:
    customer = customers[0]["customer_id"].iloc[5]
    response = post(service, {"customer_id": customer})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"]) == (MODEL, versions["forest"])
    assert body["status"] == "ok"
    assert body["churn_probability"] == pytest.approx(
        expected(customers, versions["forest"], [customer])[0], abs=1e-12
    )

    unknown = post(service, {"customer_id": "nobody"})
    assert unknown.status_code == 404
    assert unknown.json()["model_version"] == versions["forest"]
    assert "not in the online feature store" in unknown.json()["message"]


def test_batch_lookup_has_a_status_per_row(
    service: ServerThread, customers: tuple[pd.DataFrame, pd.Series], versions: dict[str, str]
) -> None:
    ids = list(customers[0]["customer_id"].iloc[:3])
    response = post(service, {"customer_id": [ids[0], "nobody", ids[1], ids[2]]})
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [r["status"] for r in rows] == ["ok", "not_found", "ok", "ok"]
    want = expected(customers, versions["forest"], ids)
    got = [r["churn_probability"] for r in rows if r["status"] == "ok"]
    assert got == pytest.approx(want, abs=1e-12)


def test_mlflow_payload_formats_score_full_feature_rows(
    service: ServerThread, customers: tuple[pd.DataFrame, pd.Series], versions: dict[str, str]
) -> None:
    frame = customers[0].iloc[10:14]
    want = expected(customers, versions["forest"], list(frame["customer_id"]))
    records = json.loads(frame.to_json(orient="records"))
    split = json.loads(frame.to_json(orient="split", index=False))
    columns = {c: list(v.values()) for c, v in json.loads(frame.to_json()).items()}
    for body in (
        {"dataframe_records": records},
        {"dataframe_split": split},
        {"inputs": columns},
        {"instances": records},
    ):
        response = post(service, body)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"] == pytest.approx(want, abs=1e-12)
        assert response.json()["model_version"] == versions["forest"]
    labels = post(service, {"dataframe_records": records, "params": {"output": "label"}})
    assert labels.json()["predictions"] == [int(p >= 0.5) for p in want]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "valid JSON"),
        (b"[1, 2]", 400, "exactly one of the input fields"),
        (b'{"dataframe_records": [], "inputs": {}}', 400, "exactly one of the input fields"),
        (b'{"dataframe_records": [{"tenure": 3}]}', 422, "lack the feature column(s)"),
        (b'{"dataframe_split": {"data": [[1]]}}', 400, "'columns' and 'data'"),
        (b'{"customer_id": []}', 422, "empty list"),
        (b'{"customer_id": [3]}', 422, "non-empty string"),
        (b'{"customer_id": "x", "params": {"output": "odds"}}', 400, "Unknown params.output"),
    ],
)
def test_malformed_payloads_get_the_reason(
    service: ServerThread, body: bytes, status: int, reason: str
) -> None:
    response = httpx.post(f"{service.url}/invocations", content=body, timeout=30)
    assert response.status_code == status, response.text
    assert reason in response.json()["message"]


def test_health_ready_and_metrics(service: ServerThread, versions: dict[str, str]) -> None:
    assert httpx.get(f"{service.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{service.url}/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["model"]["model_version"] == versions["forest"]
    assert ready.json()["features"][TABLE]["version"] == 3
    post(service, {"customer_id": "nobody"})
    text = httpx.get(f"{service.url}/metrics").text
    assert (
        f'churn_serving_model_version{{model_name="{MODEL}"}} {float(versions["forest"])}' in text
    )
    assert 'churn_serving_requests_total{endpoint="invocations",status="404"}' in text
    assert f'churn_serving_feature_table_version{{table="{TABLE}"}} 3.0' in text
    assert "churn_serving_request_seconds_bucket" in text


def test_concurrent_requests_share_predict_calls(
    service: ServerThread, customers: tuple[pd.DataFrame, pd.Series]
) -> None:
    ids = list(customers[0]["customer_id"].iloc[:64])

    async def drive() -> list[int]:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post("/invocations", json={"customer_id": i}) for i in ids)
            )
        return [r.status_code for r in responses]

    assert asyncio.run(drive()) == [200] * len(ids)
    text = httpx.get(f"{service.url}/metrics").text
    count = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("churn_serving_batch_requests_count")
    )
    assert count < len(ids)  # fewer predict calls than requests


def test_a_promotion_is_followed_without_restart_and_no_request_fails(
    service: ServerThread, customers: tuple[pd.DataFrame, pd.Series], versions: dict[str, str]
) -> None:
    ids = list(customers[0]["customer_id"].iloc[:20])
    old, new = versions["forest"], versions["logistic"]

    async def client_loop(client: httpx.AsyncClient, key: str, stop: asyncio.Event) -> list:
        seen = []
        while not stop.is_set():
            response = await client.post("/invocations", json={"customer_id": key})
            seen.append((response.status_code, response.json().get("model_version")))
        return seen

    async def drive() -> list[list]:
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            tasks = [asyncio.create_task(client_loop(client, k, stop)) for k in ids]
            await asyncio.sleep(0.5)
            await asyncio.to_thread(set_champion, new)
            deadline = asyncio.get_running_loop().time() + 60
            while asyncio.get_running_loop().time() < deadline:
                r = await client.post("/invocations", json={"customer_id": ids[0]})
                if r.json()["model_version"] == new:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)
            stop.set()
            return await asyncio.gather(*tasks)

    per_client = asyncio.run(drive())
    seen = [s for client in per_client for s in client]
    assert {status for status, _ in seen} == {200}, "no request fails during the swap"
    for client in per_client:
        served = [v for _, v in client]
        assert served[0] == old
        assert served[-1] == new
        assert served == sorted(served, key=lambda v: v == new)  # old ... old, new ... new
    response = post(service, {"customer_id": ids[1]})
    assert response.json()["churn_probability"] == pytest.approx(
        expected(customers, new, [ids[1]])[0], abs=1e-12
    )


def test_a_champion_that_fails_to_load_keeps_the_old_one_serving(
    service: ServerThread,
    versions: dict[str, str],
    tmp_path: Path,
    customers: tuple[pd.DataFrame, pd.Series],
) -> None:
    import mlflow

    client = mlflow.MlflowClient()
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    (empty / "MLmodel").write_text("flavors: {}\n")
    broken = client.create_model_version(MODEL, source=empty.as_uri()).version
    set_champion(str(broken))
    deadline = time.monotonic() + 60
    failure = None
    while failure is None and time.monotonic() < deadline:
        failure = httpx.get(f"{service.url}/ready").json()["last_load_failure"]
        time.sleep(0.2)
    assert failure is not None
    assert failure["version"] == str(broken)
    assert "not a churn model" in failure["message"]
    response = post(service, {"customer_id": customers[0]["customer_id"].iloc[0]})
    assert response.status_code == 200
    assert response.json()["model_version"] == versions["forest"]
    metrics = httpx.get(f"{service.url}/metrics").text
    failures = next(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("churn_serving_model_load_failures_total")
    )
    assert failures >= 1


def test_the_inference_log_is_a_table_of_scored_rows(
    versions: dict[str, str],
    published: str,
    source: ChampionSource,
    log_dir: Path,
    customers: tuple[pd.DataFrame, pd.Series],
) -> None:
    set_champion(versions["forest"])
    holder = ModelHolder(source.load(versions["forest"]))
    app = create_app(holder, PostgresOnlineStore(published), inference_log=InferenceLog(log_dir))
    ids = list(customers[0]["customer_id"].iloc[:3])
    with ServerThread(app) as server:
        post(server, {"customer_id": [*ids, "nobody"]})
        post(
            server,
            {"dataframe_records": json.loads(customers[0].iloc[:2].to_json(orient="records"))},
        )
    # the server stopped: the log is flushed
    table = ds.dataset(log_dir, format="parquet", partitioning="hive").to_table().to_pandas()
    assert len(table) == 6
    for column in (
        "customer_id",
        "churn_probability",
        "churn_prediction",
        "missing_features_reason",
        "model_name",
        "model_version",
        "scoring_run_id",
        "scored_at",
        "scoring_date",
        "tenure",
        "contract",
    ):
        assert column in table.columns
    missing = table[table["customer_id"] == "nobody"].iloc[0]
    assert missing["missing_features_reason"] == "not_found"
    assert np.isnan(missing["churn_probability"])
    scored = table[table["customer_id"] == ids[0]].iloc[0]
    assert scored["churn_probability"] == pytest.approx(
        expected(customers, versions["forest"], [ids[0]])[0], abs=1e-12
    )
    assert scored["model_version"] == versions["forest"]
    assert scored["tenure"] == customers[0]["tenure"].iloc[0]


def test_one_batch_scores_with_one_model_and_reports_rows_it_cannot_score(
    versions: dict[str, str], source: ChampionSource, customers: tuple[pd.DataFrame, pd.Series]
) -> None:
    holder = ModelHolder(source.load(versions["forest"]))
    frame = customers[0].iloc[:2]
    complete = FrameRequest.from_frame(frame)
    short = FrameRequest.from_frame(frame.drop(columns=["tenure"]))
    results, batch = BatchScorer(holder, None)([complete, short])
    assert results[0].reasons == [None, None]
    assert not np.isnan(results[0].probabilities).any()
    assert results[1].reasons[0] == "missing feature columns: ['tenure']"
    assert np.isnan(results[1].probabilities).all()
    assert {r.served.version for r in results} == {versions["forest"]}
    assert len(batch.features) == 2  # only the scorable rows went to predict_proba
    with pytest.raises(LookupUnavailableError, match="no online store"):
        BatchScorer(holder, None)([LookupRequest(keys=["a"], single=True)])
