"""Run one job from a validated request; map user-facing failures to one message and exit 2."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from rich.console import Console

from churn_jobs.context import JobContext
from churn_jobs.errors import UserError
from churn_jobs.local_platform import churn_home
from churn_jobs.preload import import_in_background
from churn_jobs.request import JobRequest, validate_params

#: job name -> module holding ``Params`` and ``run(ctx, params)``
JOBS = {
    "feature-table-refresh": "churn_jobs.jobs.feature_table_refresh",
    "feature-publish": "churn_jobs.jobs.feature_publish",
    "model-train": "churn_jobs.jobs.model_train",
    "model-validation": "churn_jobs.jobs.model_validation",
    "model-deployment": "churn_jobs.jobs.model_deployment",
    "model-inference-batch": "churn_jobs.jobs.model_inference_batch",
    "integration-check": "churn_jobs.jobs.integration_check",
    "model-monitoring": "churn_jobs.jobs.model_monitoring",
}


def job_module(job: str) -> ModuleType:
    if job not in JOBS:
        raise UserError(f"Unknown job {job!r}.", f"use one of: {', '.join(JOBS)}")
    return importlib.import_module(JOBS[job])


def run_job(
    job: str, request: JobRequest, console: Console | None = None, home: Path | None = None
) -> Any:
    module = job_module(job)
    params = validate_params(module.Params, request.params, f"{job} parameters")
    import_in_background(getattr(module, "PRELOAD", ()))
    ctx = JobContext(
        runtime=request.runtime, console=console or Console(), home=home or churn_home()
    )
    return module.run(ctx, params)


def user_error_types() -> tuple[type[Exception], ...]:
    """Every library's user-facing error base: their messages name the problem and the fix."""
    from churn_features.errors import ChurnFeaturesError
    from churn_model.errors import ChurnModelError
    from churn_registry_ops.errors import RegistryOpsError
    from churn_scoring.errors import ChurnScoringError

    return (UserError, ChurnFeaturesError, ChurnModelError, RegistryOpsError, ChurnScoringError)


@contextmanager
def exit_on_user_error(console: Console | None = None) -> Iterator[None]:
    """A user mistake ends in its message and exit code 2, without a traceback; a failed call
    to the MLflow tracking server or registry in one message and exit code 1."""
    try:
        yield
    except user_error_types() as exc:
        err = console or Console(stderr=True)
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise SystemExit(2) from None
    except Exception as exc:
        if not _is_mlflow_error(exc):
            raise
        err = console or Console(stderr=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(
            f"[bold red]error:[/] an MLflow request failed: {first}\n  fix: check the tracking "
            "server or workspace is reachable and that you may use this experiment and model, "
            "then rerun: registry changes are checked-then-set, so a rerun is safe",
            highlight=False,
            markup=True,
            soft_wrap=True,
        )
        raise SystemExit(1) from None


def _is_mlflow_error(exc: Exception) -> bool:
    import sys

    exceptions = sys.modules.get("mlflow.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.MlflowException)
