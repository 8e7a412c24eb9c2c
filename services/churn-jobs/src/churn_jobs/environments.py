"""How the ``churn`` CLI turns ``--env NAME`` into settings: through the one environment loader.

The job wheel never reads environment files: a task receives its ``JobRequest`` (settings +
params) as ``--settings-json``. Only the developer-facing ``churn`` commands (``run``, ``demo``,
``models``, ``promote``, ``rollback``) name an environment, and they ask the loader that the
owner of the files registers under the entry-point group ``churn.environments`` (churn-infra:
``infra/environments/<env>.yaml`` and ``infra/params/``). Without it installed (e.g. the job
wheel alone on a cluster), those commands say so; the entry points work regardless.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from churn_jobs.errors import UserError

if TYPE_CHECKING:
    from churn_jobs.request import JobRequest
    from churn_jobs.settings import RuntimeSettings

ENTRY_POINT_GROUP = "churn.environments"


class EnvironmentSource(Protocol):
    """What the owner of the environment files provides (see churn_infra.environment)."""

    def runtime(self, environment: str, infra_dir: Path | None = None) -> RuntimeSettings: ...

    def request(
        self,
        job: str,
        environment: str,
        params: Path | str | None = None,
        infra_dir: Path | None = None,
    ) -> JobRequest:
        """``params``: an explicit file (Path), a params file name of the layout (str), or
        None for the job's own params file."""
        ...

    def params_file(self, name: str, environment: str, infra_dir: Path | None = None) -> Path:
        """The params file ``name`` (e.g. ``model-train-depth8``) as ``environment`` sees it."""
        ...


def environment_source() -> EnvironmentSource:
    found = list(entry_points(group=ENTRY_POINT_GROUP))
    if not found:
        raise UserError(
            "No environment loader is installed, so `--env` cannot be resolved.",
            "install the workspace (`uv sync --all-packages`, which brings churn-infra), or run "
            "an entry point with --settings-json / --settings-file",
        )
    source: EnvironmentSource = found[0].load()
    return source


def load_runtime_settings(name: str, infra_dir: Path | None = None) -> RuntimeSettings:
    """The runtime settings of environment ``name``."""
    return environment_source().runtime(name, infra_dir)


def request_for(
    job: str, environment: str, params: Path | str | None = None, infra_dir: Path | None = None
) -> JobRequest:
    """The request ``churn run JOB --env ENV`` runs: settings + the job's params file."""
    return environment_source().request(job, environment, params, infra_dir)


def params_file(name: str, environment: str, infra_dir: Path | None = None) -> Path:
    """Where the params file ``name`` of ``environment`` lives (the demo shows its diff)."""
    return environment_source().params_file(name, environment, infra_dir)
