"""A job request: runtime settings + task parameters, as one JSON document.

It is what a deployed task receives (``--settings-json``), and what the CLI builds from the
environment and params files, so both paths run the same validated input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from churn_jobs.environments import (
    format_validation_error,
    load_runtime_settings,
    params_file,
    read_yaml,
)
from churn_jobs.errors import UserError
from churn_jobs.settings import RuntimeSettings, StrictModel


class JobRequest(StrictModel):
    runtime: RuntimeSettings
    params: dict[str, Any] = {}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def parse_request(payload: str | dict[str, Any], source: str = "--settings-json") -> JobRequest:
    try:
        data = json.loads(payload) if isinstance(payload, str) else payload
    except json.JSONDecodeError as exc:
        raise UserError(f"{source} is not valid JSON: {exc}", "pass a JSON object") from None
    try:
        return JobRequest.model_validate(data)
    except ValidationError as exc:
        raise UserError(format_validation_error(source, exc), "fix the listed fields") from None


def request_from_files(
    job: str,
    environment: str,
    params_path: Path | None = None,
    infra_dir: Path | None = None,
) -> JobRequest:
    """The request the CLI runs: the environment's runtime section + the job's params file."""
    runtime = load_runtime_settings(environment, infra_dir)
    if params_path is not None:
        params = read_yaml(params_path)  # an explicit file must exist
    else:
        default = params_file(job, environment, infra_dir)
        params = read_yaml(default) if default.is_file() else {}
    return JobRequest(runtime=runtime, params=params)


P = TypeVar("P", bound=BaseModel)


def validate_params(model: type[P], params: dict[str, Any], source: str) -> P:
    """Task parameters as the job's pydantic model; a bad field is one clear UserError."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise UserError(format_validation_error(source, exc), "fix the listed fields") from None
