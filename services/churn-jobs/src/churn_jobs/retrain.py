"""Start retraining when monitoring fires: locally in this process, on Databricks by ``run-now``.

Locally the jobs run one after another through ``runner.run_job`` (the same entry as ``churn
run``), each with its params from the monitoring params or its params file; the monitoring run id
is tagged on every MLflow run they create (``monitoring_trigger_run_id``). On Databricks the
deployed jobs are found by name and started with ``run-now``, each waited for before the next, so
deployment sees the new challenger; the monitoring run records their run ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError

if TYPE_CHECKING:
    from churn_jobs.jobs.model_monitoring import RetrainParams

TRIGGER_TAG = "monitoring_trigger_run_id"


def start_retraining(ctx: JobContext, params: RetrainParams, monitoring_run_id: str) -> list[str]:
    """Run (locally) or start (Databricks) the retraining jobs; their run references."""
    if ctx.runtime.platform == "databricks":
        return _databricks(ctx, params, monitoring_run_id)
    return _local(ctx, params, monitoring_run_id)


def _local(ctx: JobContext, params: RetrainParams, monitoring_run_id: str) -> list[str]:
    from churn_jobs.request import JobRequest, request_from_files
    from churn_jobs.runner import run_job

    experiment = ctx.use_experiment()
    before = {r.info.run_id for r in ctx.mlflow.search_runs([experiment], max_results=10_000)}
    runs = []
    for job in params.jobs:
        if job in params.params:
            request = JobRequest(runtime=ctx.runtime, params=params.params[job])
        else:
            request = request_from_files(job, ctx.runtime.environment)
            request = JobRequest(runtime=ctx.runtime, params=request.params)
        ctx.console.print(f"[cyan]retraining[/]: {job}")
        run_job(job, request, console=ctx.console, home=ctx.home)
        runs.append(f"local:{job}")
    created = [
        r.info.run_id
        for r in ctx.mlflow.search_runs([experiment], max_results=10_000)
        if r.info.run_id not in before and r.info.run_id != monitoring_run_id
    ]
    for run_id in created:
        ctx.mlflow.set_tag(run_id, TRIGGER_TAG, monitoring_run_id)
    return [*runs, *[f"mlflow:{r}" for r in created]]


def _databricks(ctx: JobContext, params: RetrainParams, monitoring_run_id: str) -> list[str]:
    from databricks.sdk import WorkspaceClient

    client = WorkspaceClient()
    prefix = ctx.runtime.environment.upper()
    names = params.databricks_job_names or [
        f"{prefix}-churn-model-train",
        f"{prefix}-churn-model-deployment",
    ]
    started = []
    for name in names:
        found = list(client.jobs.list(name=name))
        if len(found) != 1:
            raise UserError(
                f"Retraining needs exactly one deployed job named {name!r}; found {len(found)}.",
                "deploy the environment's jobs (nox -s deploy -- <env>) or set "
                "retrain.databricks_job_names",
            )
        job_id = found[0].job_id
        assert job_id is not None
        run = client.jobs.run_now(job_id=job_id).result()
        state: Any = run.state
        result = getattr(state, "result_state", None)
        started.append(f"databricks:{name}:{run.run_id}")
        ctx.console.print(f"[cyan]retraining[/]: {name} run {run.run_id} -> {result}")
        if result is None or getattr(result, "value", str(result)) != "SUCCESS":
            raise UserError(
                f"Retraining job {name} (run {run.run_id}) ended {result}; the next jobs were "
                f"not started (monitoring run {monitoring_run_id}).",
                "look at that run in the workspace, then rerun the retraining jobs by hand",
            )
    return started
