"""Retraining on Databricks: the monitoring job starts the deployed jobs by name with the real
databricks-sdk against the FAKE workspace (infra/tests/fake_workspace.py), in order, waiting for
each; a failed run stops the chain with one message naming it."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import PythonWheelTask, Task
from fake_workspace import FakeWorkspace
from rich.console import Console

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError
from churn_jobs.jobs.model_monitoring import RetrainParams
from churn_jobs.retrain import start_retraining
from churn_jobs.settings import RuntimeSettings

JOBS = {"DEV-churn-model-train": "model-train", "DEV-churn-model-deployment": "model-deployment"}


@pytest.fixture
def fake(fake_workspace: FakeWorkspace, monkeypatch: pytest.MonkeyPatch) -> FakeWorkspace:
    """The fake's runs advance one step per ``runs/get``, with no clock, so the SDK's waiter
    (``run_now(...).result()``) sleeping 1 s, 2 s, ... plus jitter between its polls would only
    wait on nothing: 12 s of the three tests. Its polls are made without the sleeps; the waiting
    itself (polling until TERMINATED before the next job starts) is what the tests check."""
    import databricks.sdk.service.jobs as jobs_api

    monkeypatch.setattr(jobs_api, "time", SimpleNamespace(time=time.time, sleep=lambda _: None))
    return fake_workspace


@pytest.fixture
def client(fake: FakeWorkspace) -> WorkspaceClient:
    client = WorkspaceClient(host=fake.host, token=fake.token)
    for name, task in JOBS.items():
        client.jobs.create(
            name=name,
            tasks=[
                Task(
                    task_key=task,
                    python_wheel_task=PythonWheelTask(
                        package_name="churn_jobs", entry_point=f"churn-{task}"
                    ),
                    environment_key="default",
                )
            ],
        )
    return client


@pytest.fixture
def ctx(tmp_path: Path) -> JobContext:
    runtime = RuntimeSettings(
        environment="dev",
        platform="databricks",
        schema="churn",
        experiment="/Shared/churn/dev",
        registered_model_name="churn_model",
    )
    return JobContext(runtime=runtime, console=Console(width=200), home=tmp_path)


def _runs(fake: FakeWorkspace) -> list[str]:
    """The jobs started, in order (the fake's own record of run-now calls)."""
    return [run.run_name for run in sorted(fake.state.runs.values(), key=lambda r: r.run_id)]


def test_the_deployed_jobs_run_in_order_once(
    fake: FakeWorkspace, client: WorkspaceClient, ctx: JobContext
) -> None:
    started = start_retraining(ctx, RetrainParams(), "monitoring-run-1")
    assert [s.split(":")[1] for s in started] == list(JOBS)
    assert _runs(fake) == list(JOBS), "each job started exactly once, in order"
    # the first run was polled until it ended (the fake ends it at the third poll), and only
    # then was the second started
    calls = [(r.path.rsplit("/jobs/", 1)[-1], r.query.get("run_id")) for r in fake.requests]
    run_nows = [i for i, (action, _) in enumerate(calls) if action == "run-now"]
    first = str(min(fake.state.runs))
    polls = [i for i, (action, run) in enumerate(calls) if action == "runs/get" and run == first]
    assert len(polls) == 3, calls
    assert run_nows[0] < polls[0]
    assert polls[-1] < run_nows[1], "the second job started before the first had ended"


def test_a_failed_training_run_stops_the_chain(
    fake: FakeWorkspace, client: WorkspaceClient, ctx: JobContext
) -> None:
    fake.fail_tasks.add("model-train")
    with pytest.raises(UserError, match=r"DEV-churn-model-train .*ended .*FAILED"):
        start_retraining(ctx, RetrainParams(), "monitoring-run-2")
    assert _runs(fake) == ["DEV-churn-model-train"], "deployment was not started"


def test_a_missing_job_is_one_message_naming_the_fix(fake: FakeWorkspace, ctx: JobContext) -> None:
    with pytest.raises(UserError, match="exactly one deployed job named 'DEV-churn-model-train'"):
        start_retraining(ctx, RetrainParams(), "monitoring-run-3")
