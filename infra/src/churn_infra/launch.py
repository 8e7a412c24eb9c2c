"""``launch``: run one job now and follow it to the end (state per task, link, final result).

- default: ``run-now`` on the deployed job of that name;
- ``submit``: a one-time ``runs/submit`` of the job's definition, uploading this checkout's
  wheels first; it touches no deployed job (the "jobless" run), optionally on an existing
  (interactive) cluster. The Jobs API has no shared job cluster for submitted runs, so without
  ``existing_cluster`` each task gets its own new cluster of the same spec;
- local environment: the local runner executes the same definition in this process.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError
from databricks.sdk.service import jobs
from rich.console import Console
from rich.table import Table

from churn_infra.artifacts import planned_uploads, release_folder_step
from churn_infra.changes import Change, apply_changes
from churn_infra.deploy import check_clean_tree
from churn_infra.environment import find_infra_dir, load_environment
from churn_infra.errors import InfraError, WorkspaceError
from churn_infra.jobs import JOB_CLUSTER_KEY, build_job
from churn_infra.local_runner import EntryPoint, run_job_locally
from churn_infra.release import Release, build_release, predict_release
from churn_infra.wheel_cache import cache_dir
from churn_infra.workspace_client import workspace_client

TERMINAL = frozenset(
    {
        jobs.RunLifeCycleState.TERMINATED,
        jobs.RunLifeCycleState.SKIPPED,
        jobs.RunLifeCycleState.INTERNAL_ERROR,
    }
)


@dataclass
class LaunchResult:
    job: str
    succeeded: bool
    run_id: str
    url: str
    task_states: dict[str, str] = field(default_factory=dict)


def launch(
    job: str,
    env_name: str,
    *,
    submit: bool = False,
    existing_cluster: str | None = None,
    infra_dir: Path | None = None,
    repo_root: Path | None = None,
    home: Path | None = None,
    client: WorkspaceClient | None = None,
    release: Release | None = None,
    entry_points: Mapping[str, EntryPoint] | None = None,
    poll_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    console: Console | None = None,
) -> LaunchResult:
    out = console or Console()
    infra_dir = (infra_dir or find_infra_dir()).resolve()
    repo_root = (repo_root or infra_dir.parent).resolve()
    env = load_environment(env_name, infra_dir)
    named = release or predict_release(repo_root)
    settings = build_job(env, job, named)  # an unknown job fails before any build or request
    if env.databricks is None:
        if existing_cluster:
            raise InfraError("--existing-cluster applies to Databricks environments only.")
        from churn_jobs.local_platform import churn_home

        record = run_job_locally(settings, churn_home(home), entry_points=entry_points, console=out)
        return LaunchResult(
            job=record.job,
            succeeded=record.succeeded,
            run_id=record.run_id,
            url=(churn_home(home) / "runs").as_uri(),
            task_states={t.task_key: t.state for t in record.tasks},
        )
    target = env.databricks
    if existing_cluster and not submit:
        raise InfraError(
            "--existing-cluster needs --submit (a deployed job keeps its own cluster)."
        )
    if submit:
        check_clean_tree(env, named.git, False, out, action="submit a run to")
    client = client or workspace_client(target.workspace)
    name = env.job_name(job)
    rerun = f"churn-infra launch {job} {env.name}" + (" --submit" if submit else "")
    if submit:
        with tempfile.TemporaryDirectory(prefix="churn-wheels-") as scratch:
            if release is None:
                release = build_release(repo_root, Path(scratch), named.git, cache=cache_dir(home))
            folder = release.remote_dir(target.artifact_location)
            changes = [Change(f"create {folder}", release_folder_step(client, folder))] + [
                Change(f"upload {u.remote}", lambda u=u: u.apply(client))  # type: ignore[misc]
                for u in planned_uploads(release, target.artifact_location)
            ]
            apply_changes(changes, what=f"Launching {name}", rerun=rerun, out=out)
        settings = build_job(env, job, release)
        run_id = _workspace_call(lambda: _submit(client, settings, existing_cluster), name, rerun)
    else:
        job_id = _workspace_call(lambda: _find_job(client, name), name, rerun)
        run_id = _workspace_call(lambda: client.jobs.run_now(job_id).run_id, name, rerun)
    return _workspace_call(
        lambda: follow(client, name, run_id, out, poll_seconds, sleep), name, rerun
    )


T = TypeVar("T")


def _workspace_call(call: Callable[[], T], name: str, rerun: str) -> T:
    """One workspace request of launch: an API error is one message (exit 1), no traceback."""
    try:
        return call()
    except DatabricksError as exc:
        raise WorkspaceError(
            f"Launching {name} failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
            f"fix the cause, then rerun `{rerun}` (see the run list in the workspace for a run "
            "that may already have started)",
        ) from None


def _find_job(client: WorkspaceClient, name: str) -> int:
    found = [j for j in client.jobs.list(name=name) if j.settings and j.settings.name == name]
    if not found:
        raise InfraError(
            f"No job named {name!r} in the workspace.", "deploy it first, or use --submit"
        )
    if len(found) > 1:
        raise InfraError(
            f"{len(found)} jobs are named {name!r}.", "delete the duplicates, then deploy again"
        )
    assert found[0].job_id is not None
    return found[0].job_id


def _submit(
    client: WorkspaceClient, settings: jobs.JobSettings, existing_cluster: str | None
) -> int:
    """Submit the definition as a one-time run; the shared job cluster becomes per-task compute."""
    clusters = {c.job_cluster_key: c.new_cluster for c in settings.job_clusters or []}
    tasks = []
    for task in settings.tasks or []:
        data = task.as_dict()
        data.pop("job_cluster_key", None)
        submit_task = jobs.SubmitTask.from_dict(data)
        if existing_cluster:
            submit_task.existing_cluster_id = existing_cluster
        else:
            submit_task.new_cluster = clusters[task.job_cluster_key or JOB_CLUSTER_KEY]
        tasks.append(submit_task)
    waiter = client.jobs.submit(
        run_name=f"{settings.name} (submitted)",
        tasks=tasks,
        email_notifications=settings.email_notifications,
        run_as=settings.run_as,
        timeout_seconds=settings.timeout_seconds,
    )
    return int(waiter.run_id)


def follow(
    client: WorkspaceClient,
    name: str,
    run_id: int,
    out: Console,
    poll_seconds: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> LaunchResult:
    """Poll the run, printing each task's state change, until it ends; then a summary table."""
    seen: dict[str, str] = {}
    announced = False
    while True:
        run = client.jobs.get_run(run_id)
        if not announced:
            out.print(f"[bold]{name}[/bold]: run {run_id} {run.run_page_url or ''}")
            announced = True
        for task in run.tasks or []:
            state = _task_state(task)
            if seen.get(task.task_key or "") != state:
                seen[task.task_key or ""] = state
                out.print(f"  {task.task_key}: {state}")
        life = run.state.life_cycle_state if run.state else None
        if life in TERMINAL:
            break
        sleep(poll_seconds)
    result = run.state.result_state if run.state else None
    succeeded = life == jobs.RunLifeCycleState.TERMINATED and result == jobs.RunResultState.SUCCESS
    table = Table(title=f"{name}: {result.value if result else life.value if life else '?'}")
    for column in ("task", "state", "link"):
        table.add_column(column)
    for task in run.tasks or []:
        table.add_row(task.task_key or "", _task_state(task), task.run_page_url or "")
    out.print(table)
    return LaunchResult(name, succeeded, str(run_id), run.run_page_url or "", seen)


def _task_state(task: jobs.RunTask) -> str:
    state = task.state
    if state is None:
        return "UNKNOWN"
    if state.result_state is not None:
        return state.result_state.value
    return state.life_cycle_state.value if state.life_cycle_state else "UNKNOWN"
