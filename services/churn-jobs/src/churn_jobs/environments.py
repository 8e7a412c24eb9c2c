"""Find and read environment files and task parameter files under ``infra/``.

Layout (owned by the ``infra`` member, read here so that ``churn run --env NAME`` works)::

    infra/environments/<env>.yaml   runtime: (RuntimeSettings) + databricks: (deploy only)
    infra/params/<job>.yaml         task parameters shared by all environments
    infra/params/<env>/<job>.yaml   optional per-environment override of one job's parameters
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from churn_jobs.errors import UserError
from churn_jobs.settings import RuntimeSettings

INFRA_DIR_VARIABLE = "CHURN_INFRA_DIR"


def find_infra_dir(start: Path | None = None) -> Path:
    """``$CHURN_INFRA_DIR``, else the first ``infra/environments`` found walking up from cwd."""
    if explicit := os.environ.get(INFRA_DIR_VARIABLE):
        path = Path(explicit).expanduser().resolve()
        if not (path / "environments").is_dir():
            raise UserError(
                f"{INFRA_DIR_VARIABLE}={explicit} has no environments/ folder.",
                "point it at the repository's infra/ directory",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "infra" / "environments").is_dir():
            return folder / "infra"
    raise UserError(
        f"No infra/environments/ folder found in {here} or its parents.",
        f"run from the churn-mlops checkout, or set {INFRA_DIR_VARIABLE}",
    )


def read_yaml(path: Path) -> dict[str, Any]:
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


def available_environments(infra_dir: Path) -> list[str]:
    return sorted(p.stem for p in (infra_dir / "environments").glob("*.yaml"))


def environment_file(name: str, infra_dir: Path | None = None) -> Path:
    infra = infra_dir or find_infra_dir()
    path = infra / "environments" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(infra)) or "none"
        raise UserError(f"Unknown environment {name!r} (known: {known}).", "pick one of those")
    return path


def format_validation_error(source: str, exc: ValidationError) -> str:
    lines = [f"{source} is invalid:"]
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"  - {where}: {err['msg']}")
    return "\n".join(lines)


def load_runtime_settings(name: str, infra_dir: Path | None = None) -> RuntimeSettings:
    path = environment_file(name, infra_dir)
    data = read_yaml(path)
    try:
        return RuntimeSettings.model_validate(data.get("runtime", {}))
    except ValidationError as exc:
        raise UserError(
            format_validation_error(f"{path} (runtime section)", exc), "fix the listed fields"
        ) from None


def params_file(job: str, environment: str, infra_dir: Path | None = None) -> Path:
    """The parameter file of ``job``: a per-environment override if present, else the shared one."""
    infra = infra_dir or find_infra_dir()
    override = infra / "params" / environment / f"{job}.yaml"
    return override if override.is_file() else infra / "params" / f"{job}.yaml"
