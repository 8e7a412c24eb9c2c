"""Launch against the FAKE workspace: run-now, runs/submit, failures reported as failures."""

from __future__ import annotations

from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from fake_workspace import FakeWorkspace
from rich.console import Console
from typer.testing import CliRunner

from churn_infra.cli import app
from churn_infra.deploy import deploy
from churn_infra.launch import launch
from churn_infra.release import Release
from churn_jobs.errors import UserError


def _launch(job: str, env: str, infra: Path, repo: Path, client: WorkspaceClient, **kw):
    console = Console(record=True, width=200)
    result = launch(
        job,
        env,
        infra_dir=infra,
        repo_root=repo,
        client=client,
        poll_seconds=0,
        console=console,
        **kw,
    )
    return result, console.export_text()


@pytest.fixture
def deployed(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> FakeWorkspace:
    deploy(
        "staging",
        infra_dir=infra_dir,
        repo_root=repo_root,
        client=client,
        release=built_release,
        console=Console(quiet=True),
    )
    return fake


def test_run_now_follows_every_task_to_success(
    deployed: FakeWorkspace, client: WorkspaceClient, infra_dir: Path, repo_root: Path
) -> None:
    result, text = _launch("initial-model-train-register", "staging", infra_dir, repo_root, client)
    assert result.succeeded
    assert result.task_states == {
        "feature-table-refresh": "SUCCESS",
        "model-train": "SUCCESS",
        "model-validation": "SUCCESS",
    }
    assert result.url == f"{deployed.host}/jobs/runs/{result.run_id}"
    assert result.url in text
    run_now = [r for r in deployed.requests if r.path == "/api/2.2/jobs/run-now"]
    assert len(run_now) == 1


def test_a_failed_task_is_a_failed_launch(
    deployed: FakeWorkspace, client: WorkspaceClient, infra_dir: Path, repo_root: Path
) -> None:
    deployed.fail_tasks = {"model-train"}
    result, text = _launch("initial-model-train-register", "staging", infra_dir, repo_root, client)
    assert not result.succeeded
    assert result.task_states["model-train"] == "FAILED"
    assert result.task_states["model-validation"] == "UPSTREAM_FAILED"
    assert "FAILED" in text


def test_launch_of_a_job_never_deployed_is_a_user_error(
    fake: FakeWorkspace, client: WorkspaceClient, infra_dir: Path, repo_root: Path
) -> None:
    with pytest.raises(UserError, match="deploy it first"):
        _launch("model-train", "staging", infra_dir, repo_root, client)
    assert fake.mutating_requests() == []


def test_unknown_job_is_a_user_error(
    client: WorkspaceClient, infra_dir: Path, repo_root: Path
) -> None:
    with pytest.raises(UserError, match="has no job 'integration-test'"):
        _launch("integration-test", "dev", infra_dir, repo_root, client, submit=True)


def test_submit_touches_no_deployed_job(
    deployed: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    jobs_before = {k: dict(v) for k, v in deployed.state.jobs.items()}
    start = len(deployed.requests)
    result, _ = _launch(
        "model-train", "staging", infra_dir, repo_root, client, submit=True, release=built_release
    )
    assert result.succeeded
    calls = deployed.requests[start:]
    assert not [
        r
        for r in calls
        if r.path.startswith(
            ("/api/2.2/jobs/create", "/api/2.2/jobs/reset", "/api/2.2/jobs/run-now")
        )
    ]
    assert deployed.state.jobs == jobs_before
    (submit,) = [r for r in calls if r.path == "/api/2.2/jobs/runs/submit"]
    tasks = submit.json["tasks"]
    assert [t["task_key"] for t in tasks] == ["model-train", "model-validation"]
    for task in tasks:
        assert "job_cluster_key" not in task
        assert task["new_cluster"]["spark_version"].startswith("18.")
        assert task["python_wheel_task"]["entry_point"].startswith("churn-model-")
    # its wheels were uploaded first, where its libraries point
    for lib in tasks[0]["libraries"]:
        assert lib["whl"] in deployed.state.files


def test_submit_on_an_existing_cluster(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, _ = _launch(
        "model-deployment",
        "dev",
        infra_dir,
        repo_root,
        client,
        submit=True,
        existing_cluster="0101-abc",
        release=built_release,
    )
    assert result.succeeded
    (submit,) = [r for r in fake.requests if r.path == "/api/2.2/jobs/runs/submit"]
    assert [t["existing_cluster_id"] for t in submit.json["tasks"]] == ["0101-abc"]
    assert "new_cluster" not in submit.json["tasks"][0]
    assert fake.state.jobs == {}


def test_cli_launch_failure_exits_non_zero(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    fake_infra: Path,
    repo_root: Path,
    built_release: Release,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deploy(
        "dev",
        infra_dir=fake_infra,
        repo_root=repo_root,
        client=client,
        release=built_release,
        console=Console(quiet=True),
    )
    fake.fail_tasks = {"model-validation"}
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    args = [
        "launch",
        "model-train",
        "dev",
        "--poll-seconds",
        "0",
        "--infra-dir",
        str(fake_infra),
        "--repo-root",
        str(repo_root),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "DEV-churn-model-train failed" in result.output

    fake.fail_tasks = set()
    assert CliRunner().invoke(app, args).exit_code == 0
