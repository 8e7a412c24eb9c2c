"""A job request: runtime settings + task parameters, as one JSON document.

It is what a deployed task receives (``--settings-json``); the environment loader builds the
same object for the ``churn`` CLI and for every job definition, so both run one validated input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from churn_jobs.errors import UserError
from churn_jobs.settings import RuntimeSettings, StrictModel


class JobRequest(StrictModel):
    runtime: RuntimeSettings
    params: dict[str, Any] = {}

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


def format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source} is invalid:"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  - {where}: {err['msg']}")
    return "\n".join(lines)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML (or JSON) mapping from a file; a missing or malformed file is one UserError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"Config file {path} does not exist.", "check the path") from None
    except yaml.YAMLError as exc:
        raise UserError(f"Config file {path} is not valid YAML: {exc}", "fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"Config file {path} must hold a mapping at its top level.", "fix it")
    return data


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
    params_path: Path | str | None = None,
    infra_dir: Path | None = None,
) -> JobRequest:
    """The request the CLI runs, from the environment loader (see churn_jobs.environments)."""
    from churn_jobs.environments import request_for

    return request_for(job, environment, params_path, infra_dir)


P = TypeVar("P", bound=BaseModel)


def validate_params(model: type[P], params: dict[str, Any], source: str) -> P:
    """Task parameters as the job's pydantic model; a bad field is one clear UserError."""
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise UserError(format_validation_error(source, exc), "fix the listed fields") from None
