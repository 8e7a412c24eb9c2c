"""Environment files and the repository's ``infra/`` layout: their one owner and one parser.

::

    infra/environments/<env>.yaml   runtime: + databricks: (absent for local) + integration_test:
    infra/params/<task>.yaml        task parameters shared by all environments
    infra/params/<env>/<task>.yaml  optional per-environment override of one task's parameters

``load_environment`` reads a file once and returns everything derived from it: the runtime
settings every task receives (``environment`` is the file's name, ``platform`` is whether a
``databricks:`` section exists: neither is written in the file), the deploy target, and each
task's parameters, already validated by that task's own ``Params`` model. ``request`` builds the
``JobRequest`` a task runs. The ``churn`` CLI reaches this module through the entry point
``churn.environments`` (see churn_jobs.environments), so the job wheel never looks for ``infra/``.

Credentials never live here: ``workspace`` names a databricks-sdk profile or a host, and the
token comes from databricks-sdk unified auth (``~/.databrickscfg``, env vars, OAuth, ...).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from churn_infra.errors import InfraError
from churn_jobs.request import JobRequest, format_validation_error, read_yaml, validate_params
from churn_jobs.runner import JOBS, job_module, user_error_types
from churn_jobs.serving_endpoint import ServingEndpoint
from churn_jobs.settings import RuntimeSettings

INFRA_DIR_VARIABLE = "CHURN_INFRA_DIR"
DERIVED_RUNTIME_KEYS = ("environment", "platform", "workspace_profile")

JOB_NAMES = (
    "feature-table-refresh",
    "model-train",
    "model-validation",
    "model-deployment",
    "model-inference-batch",
    "initial-model-train-register",
    "integration-test",
    "model-monitoring",
)
"""Short names of every job; the deployed name is ``<ENV>-churn-<job>``."""

TASKS = tuple(JOBS)
"""Every task key: a churn-jobs job module, its ``churn-<task>`` script and its params file."""


# -- the layout --------------------------------------------------------------------------------


def find_infra_dir(start: Path | None = None) -> Path:
    """``$CHURN_INFRA_DIR``; else ``infra/`` found walking up from the cwd; else the ``infra/``
    folder this package is installed from (an editable workspace install)."""
    if explicit := os.environ.get(INFRA_DIR_VARIABLE):
        path = Path(explicit).expanduser().resolve()
        if not (path / "environments").is_dir():
            raise InfraError(
                f"{INFRA_DIR_VARIABLE}={explicit} has no environments/ folder.",
                "point it at the repository's infra/ directory",
            )
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "infra" / "environments").is_dir():
            return folder / "infra"
    installed_from = Path(__file__).resolve().parents[2]
    if (installed_from / "environments").is_dir():
        return installed_from
    raise InfraError(
        f"No infra/environments/ folder found in {here} or its parents.",
        f"run from the churn-mlops checkout, or set {INFRA_DIR_VARIABLE}",
    )


def available_environments(infra_dir: Path) -> list[str]:
    return sorted(p.stem for p in (infra_dir / "environments").glob("*.yaml"))


def environment_file(name: str, infra_dir: Path) -> Path:
    path = infra_dir / "environments" / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_environments(infra_dir)) or "none"
        raise InfraError(f"Unknown environment {name!r} (known: {known}).", "pick one of those")
    return path


def params_file(name: str, environment: str, infra_dir: Path) -> Path:
    """``params/<env>/<name>.yaml`` if present, else ``params/<name>.yaml``."""
    override = infra_dir / "params" / environment / f"{name}.yaml"
    return override if override.is_file() else infra_dir / "params" / f"{name}.yaml"


# -- the file format ---------------------------------------------------------------------------


class Strict(BaseModel):
    """A typo in an environment file is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Workspace(Strict):
    """Which workspace: a databricks-sdk profile name, a host, or both (never a token)."""

    profile: str | None = None
    host: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> Workspace:
        if not (self.profile or self.host):
            raise ValueError("set a profile (from ~/.databrickscfg) or a host")
        if self.host and not self.host.startswith(("https://", "http://")):
            raise ValueError("host must be a URL such as https://adb-123.azuredatabricks.net")
        return self

    def describe(self) -> str:
        return " ".join(
            part
            for part in (
                f"profile {self.profile}" if self.profile else "",
                f"host {self.host}" if self.host else "",
            )
            if part
        )


class Autoscale(Strict):
    min_workers: int = Field(ge=0)
    max_workers: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.max_workers < self.min_workers:
            raise ValueError("max_workers must be >= min_workers")
        return self


DEDICATED_ACCESS_MODES = ("SINGLE_USER", "DATA_SECURITY_MODE_DEDICATED")
POOL_ID = re.compile(r"\d{4}-\d{6}-[a-z0-9]+-pool-[a-z0-9]+")
"""The shape of a Databricks instance pool id; anything else is a placeholder left in a file."""

DEFAULT_TIMEOUTS = {
    "feature-table-refresh": 3600,
    "model-train": 3 * 3600,
    "model-validation": 3600,
    "model-deployment": 3600,
    "model-inference-batch": 2 * 3600,
    "initial-model-train-register": 4 * 3600,
    "integration-test": 4 * 3600,
    "model-monitoring": 2 * 3600,  # includes the retraining it may start and wait for
}
assert set(DEFAULT_TIMEOUTS) == set(JOB_NAMES)
"""Seconds a run of each job may take: with max_concurrent_runs 1, a hung run without a timeout
would make every later scheduled run skip silently."""


class Cluster(Strict):
    """The one job cluster every task of a job shares: node types or an instance pool."""

    spark_version: str = Field(description="Databricks Runtime, e.g. 17.3.x-cpu-ml-scala2.13")
    node_type_id: str | None = None
    driver_node_type_id: str | None = None
    instance_pool_id: str | None = None
    driver_instance_pool_id: str | None = None
    num_workers: int | None = Field(default=None, ge=0)
    autoscale: Autoscale | None = None
    data_security_mode: str = Field(
        default="SINGLE_USER",
        description="Dedicated compute only: SINGLE_USER or DATA_SECURITY_MODE_DEDICATED",
    )
    policy_id: str | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    custom_tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Cluster:
        if self.data_security_mode not in DEDICATED_ACCESS_MODES:
            # Unity Catalog models and sparkContext.broadcast (the scoring path) need dedicated
            # (single-user) compute: standard/shared access mode (USER_ISOLATION) blocks
            # sparkContext, and NONE has no Unity Catalog at all.
            raise ValueError(
                f"data_security_mode {self.data_security_mode!r} is not dedicated compute; the "
                "jobs use Unity Catalog models and sparkContext.broadcast, which need "
                f"{' or '.join(DEDICATED_ACCESS_MODES)}"
            )
        for field_name in ("instance_pool_id", "driver_instance_pool_id"):
            pool = getattr(self, field_name)
            if pool is not None and not POOL_ID.fullmatch(pool):
                raise ValueError(
                    f"{field_name} {pool!r} is not an instance pool id (a placeholder?); copy "
                    "the id from Compute > Pools (it looks like 1117-140523-cube591-pool-7h1sb8tq)"
                )
        if (self.num_workers is None) == (self.autoscale is None):
            raise ValueError("set exactly one of num_workers or autoscale")
        if (self.node_type_id is None) == (self.instance_pool_id is None):
            raise ValueError("set exactly one of node_type_id or instance_pool_id")
        if self.driver_instance_pool_id and not self.instance_pool_id:
            raise ValueError("driver_instance_pool_id needs instance_pool_id")
        if self.driver_node_type_id and self.instance_pool_id:
            raise ValueError("with an instance pool, set driver_instance_pool_id instead")
        return self


class Schedule(Strict):
    quartz_cron_expression: str = Field(description="Quartz cron, e.g. '0 0 3 * * ?'")
    timezone_id: str = "UTC"
    paused: bool = False


class Permission(Strict):
    """One entry of a job's access control list: exactly one principal and a level."""

    group_name: str | None = None
    user_name: str | None = None
    service_principal_name: str | None = None
    level: Literal["CAN_VIEW", "CAN_MANAGE_RUN", "CAN_MANAGE", "IS_OWNER"]
    """IS_OWNER is refused here: the owner is ``owner:`` / ``run_as`` (see DatabricksTarget)."""

    @model_validator(mode="after")
    def _one_principal(self) -> Permission:
        given = [p for p in (self.group_name, self.user_name, self.service_principal_name) if p]
        if len(given) != 1:
            raise ValueError("set exactly one of group_name, user_name, service_principal_name")
        return self


class RunAs(Strict):
    """A principal: exactly one of a user name or a service principal's application id."""

    user_name: str | None = None
    service_principal_name: str | None = None

    @model_validator(mode="after")
    def _one_principal(self) -> RunAs:
        if (self.user_name is None) == (self.service_principal_name is None):
            raise ValueError("set exactly one of user_name or service_principal_name")
        return self

    def same_principal(self, permission: Permission) -> bool:
        return (self.user_name, self.service_principal_name) == (
            permission.user_name,
            permission.service_principal_name,
        )


class DatabricksTarget(Strict):
    workspace: Workspace
    artifact_location: str = Field(
        description="Where wheels go: a UC volume /Volumes/... or a workspace path /Workspace/..."
    )
    cluster: Cluster
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    notification_emails: list[str] = Field(default_factory=list)
    permissions: list[Permission] = Field(default_factory=list)
    run_as: RunAs | None = None
    owner: RunAs | None = Field(
        default=None,
        description="The job's one IS_OWNER; default: run_as, else the deploying user",
    )
    max_concurrent_runs: int = Field(default=1, ge=1)
    timeouts: dict[str, int] = Field(
        default_factory=dict, description="Per job, seconds; default DEFAULT_TIMEOUTS"
    )
    require_clean_git: bool = Field(
        default=False, description="Refuse to deploy from a git tree with uncommitted changes"
    )
    serving: ServingEndpoint | None = Field(
        default=None,
        description="The Model Serving endpoint serving the champion (name default "
        "<env>-churn-serving); absent: no endpoint",
    )

    @model_validator(mode="after")
    def _checks(self) -> DatabricksTarget:
        if not self.artifact_location.startswith(("/Volumes/", "/Workspace/")):
            raise ValueError("artifact_location must start with /Volumes/ or /Workspace/")
        if unknown := sorted(set(self.schedules) - set(JOB_NAMES)):
            raise ValueError(f"schedules name unknown jobs {unknown}; known: {list(JOB_NAMES)}")
        if "model-validation" in self.schedules:
            raise ValueError(
                "schedules.model-validation: that job runs on its model update trigger (every "
                "new version of the model); remove its schedule"
            )
        if unknown := sorted(set(self.timeouts) - set(JOB_NAMES)):
            raise ValueError(f"timeouts name unknown jobs {unknown}; known: {list(JOB_NAMES)}")
        if self.max_concurrent_runs == 1 and (
            zero := [j for j in JOB_NAMES if not self.timeout(j)]
        ):
            raise ValueError(
                f"timeouts of {zero} are 0 (no limit) with max_concurrent_runs 1: one hung run "
                "would silently skip every later scheduled run; give each job a timeout"
            )
        if any(p.level == "IS_OWNER" for p in self.permissions):
            raise ValueError(
                "permissions may not grant IS_OWNER: a job has exactly one owner, set with "
                "owner: (default: run_as, else the deploying user)"
            )
        return self

    def timeout(self, job: str) -> int:
        return self.timeouts.get(job, DEFAULT_TIMEOUTS[job])

    @property
    def stated_owner(self) -> RunAs | None:
        """The owner the file states (owner:, else run_as); None means the deploying user."""
        return self.owner or self.run_as


class IntegrationTest(Strict):
    """Where the integration-test job writes: separate tables, experiment and model."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_name: str = Field(alias="schema")
    experiment: str
    registered_model_name: str

    def apply(self, runtime: RuntimeSettings) -> RuntimeSettings:
        return runtime.model_copy(
            update={
                "schema_name": self.schema_name,
                "experiment": self.experiment,
                "registered_model_name": self.registered_model_name,
            }
        )


class Environment(Strict):
    """One environment file, validated, with the runtime settings and task params it implies."""

    name: str
    runtime: RuntimeSettings
    databricks: DatabricksTarget | None = None
    integration_test: IntegrationTest | None = None
    params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="task -> its parameters (params files, validated)"
    )

    @model_validator(mode="after")
    def _experiments_are_siblings(self) -> Environment:
        if self.integration_test is None:
            return self
        main, test = self.runtime.experiment, self.integration_test.experiment
        if test == main or test.startswith(main.rstrip("/") + "/"):
            # an experiment is a workspace object, not a folder: nothing can live under it
            raise ValueError(
                f"integration_test.experiment {test!r} is {main!r} or under it; an experiment "
                f"cannot hold another: use a sibling path such as {main.rstrip('/')}-integration"
            )
        if self.databricks is not None and not test.startswith("/"):
            raise ValueError(f"integration_test.experiment {test!r} must be a workspace path")
        return self

    @model_validator(mode="after")
    def _serving_needs_unity_catalog(self) -> Environment:
        if self.databricks and self.databricks.serving and not self.runtime.catalog:
            # Model Serving serves a Unity Catalog model version by name; the inference table
            # lands in a catalog's schema
            raise ValueError(
                "databricks.serving needs a Unity Catalog model: set runtime.catalog (and a "
                "three-level registered_model_name)"
            )
        return self

    @property
    def serving(self) -> ServingEndpoint | None:
        """The environment's serving endpoint, if it declares one."""
        return self.databricks.serving if self.databricks else None

    @property
    def is_local(self) -> bool:
        return self.databricks is None

    @property
    def experiments(self) -> list[str]:
        found = [self.runtime.experiment]
        if self.integration_test is not None:
            found.append(self.integration_test.experiment)
        return found

    @property
    def schemas(self) -> list[str]:
        """``catalog.schema`` of the jobs' tables (and the integration test's)."""
        found = [self.runtime.database]
        if self.integration_test is not None:
            found.append(self.integration_test.apply(self.runtime).database)
        return found

    def job_name(self, job: str) -> str:
        return f"{self.name.upper()}-churn-{job}"

    def runtime_for(self, job: str) -> RuntimeSettings:
        """The integration-test job runs on its own tables, experiment and model."""
        if job == "integration-test" and self.integration_test is not None:
            return self.integration_test.apply(self.runtime)
        return self.runtime

    def request(self, task: str, job: str | None = None) -> JobRequest:
        """What ``task`` receives when it runs as part of ``job`` (default: on its own)."""
        params = {
            **self.derived_params(task, job),
            **self.params.get(task, {}),
            **JOB_PARAM_OVERRIDES.get((job or task, task), {}),
        }
        return JobRequest(runtime=self.runtime_for(job or task), params=params)

    def derived_params(self, task: str, job: str | None = None) -> dict[str, Any]:
        """Params this file implies (a params file may still set them): model-deployment's
        ``serving_endpoint`` from ``databricks.serving``, except in the integration test, whose
        deployment step promotes versions of its own test model."""
        if task == "model-deployment" and self.serving and (job or task) != "integration-test":
            return {"serving_endpoint": self.serving.model_dump()}
        return {}


#: Params a task takes only inside one job. The integration test runs the chain on fresh test
#: tables where no champion exists yet, so its deployment step promotes the validated challenger
#: (model-deployment's opt-in ``promote_when_no_champion``); scheduled deployments never do. Its
#: monitoring step computes and writes the monitor tables but never starts retraining (that
#: would run the environment's own model-train job), and the check then requires those tables.
JOB_PARAM_OVERRIDES: dict[tuple[str, str], dict[str, object]] = {
    ("integration-test", "model-deployment"): {"promote_when_no_champion": True},
    ("integration-test", "model-monitoring"): {"retrain": {"enabled": False}},
    ("integration-test", "integration-check"): {"require_monitoring": True},
}


def load_environment(name: str, infra_dir: Path) -> Environment:
    """Read and validate ``environments/<name>.yaml`` and every task's params file.

    Raises InfraError naming the known environments, or every invalid field; a bad params file
    fails here (so ``deploy --dry-run`` catches it), through the task's own ``Params`` model.
    """
    path = environment_file(name, infra_dir)
    data = read_yaml(path)
    runtime = data.get("runtime")
    if not isinstance(runtime, dict):
        raise InfraError(f"{path} has no runtime: mapping.", "add the runtime: section")
    if written := [key for key in DERIVED_RUNTIME_KEYS if key in runtime]:
        raise InfraError(
            f"{path}: runtime.{' and runtime.'.join(written)} are derived, not written: the "
            "environment is the file's name, the platform is databricks exactly when a "
            "databricks: section is present, and the profile is its workspace's.",
            f"remove {', '.join(written)} from the runtime: section",
        )
    databricks = data.get("databricks")
    if isinstance(databricks, dict) and isinstance(databricks.get("serving"), dict):
        databricks = {
            **databricks,
            "serving": {"name": f"{name}-churn-serving", **databricks["serving"]},
        }
        data = {**data, "databricks": databricks}
    platform = "databricks" if databricks else "local"
    profile = (
        databricks.get("workspace", {}).get("profile")
        if isinstance(databricks, dict) and isinstance(databricks.get("workspace"), dict)
        else None
    )
    derived = {"environment": name, "platform": platform, "workspace_profile": profile}
    document = {
        **data,
        "name": name,
        "runtime": {**runtime, **derived},
        "params": {task: load_task_params(task, name, infra_dir) for task in TASKS},
    }
    try:
        return Environment.model_validate(document)
    except ValidationError as exc:
        raise InfraError(format_validation_error(str(path), exc), "fix the listed fields") from None


def load_task_params(task: str, environment: str, infra_dir: Path) -> dict[str, Any]:
    """A task's params file (``{}`` when absent), validated by the task's own ``Params``."""
    return load_params_file(task, params_file(task, environment, infra_dir))


def load_params_file(task: str, path: Path) -> dict[str, Any]:
    params = read_yaml(path) if path.is_file() else {}
    try:
        validate_params(job_module(task).Params, params, str(path))
    except user_error_types() as exc:  # a library's validator may raise its own error
        if isinstance(exc, InfraError):
            raise
        raise InfraError(f"{path} is invalid:\n  {exc}", "fix the listed fields") from None
    return params


# -- what the `churn` CLI asks for (entry point `churn.environments`) --------------------------


class EnvironmentFiles:
    """The environment loader the ``churn`` CLI finds through its entry point."""

    def runtime(self, environment: str, infra_dir: Path | None = None) -> RuntimeSettings:
        return load_environment(environment, infra_dir or find_infra_dir()).runtime

    def request(
        self,
        job: str,
        environment: str,
        params: Path | str | None = None,
        infra_dir: Path | None = None,
    ) -> JobRequest:
        infra = infra_dir or find_infra_dir()
        env = load_environment(environment, infra)
        if params is None:
            return env.request(job)
        path = params if isinstance(params, Path) else params_file(params, environment, infra)
        if not path.is_file():
            raise InfraError(f"Config file {path} does not exist.", "check the path")
        return JobRequest(
            runtime=env.runtime_for(job),
            params={**env.derived_params(job), **load_params_file(job, path)},
        )

    def params_file(self, name: str, environment: str, infra_dir: Path | None = None) -> Path:
        return params_file(name, environment, infra_dir or find_infra_dir())


ENVIRONMENT_FILES = EnvironmentFiles()
