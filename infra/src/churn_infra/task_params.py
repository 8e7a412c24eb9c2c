"""Task parameter files: ``infra/params/<job>.yaml``, optionally overridden per environment.

The jobs validate their own parameters; here they are only read and carried into the job
definition, so that a deployed job is fully described by its definition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn_jobs.environments import params_file, read_yaml


def load_task_params(params_name: str, environment: str, infra_dir: Path) -> dict[str, Any]:
    """The parameters of one task (``{}`` when the job has no parameter file)."""
    path = params_file(params_name, environment, infra_dir)
    return read_yaml(path) if path.is_file() else {}
