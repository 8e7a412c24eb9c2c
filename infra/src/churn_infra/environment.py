"""An environment file: the jobs' runtime settings plus, for Databricks, where and how to deploy.

``infra/environments/<env>.yaml``::

    runtime: {...}          # churn_jobs.settings.RuntimeSettings, what every task receives
    databricks: {...}       # DatabricksTarget; absent or null for the local environment
    integration_test: {...} # optional: run the whole chain on separate test tables

Credentials never live here: ``workspace`` names a databricks-sdk profile or a host, and the
token comes from databricks-sdk unified auth (``~/.databrickscfg``, env vars, OAuth, ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from churn_jobs.environments import (
    environment_file,
    find_infra_dir,
    format_validation_error,
    read_yaml,
)
from churn_jobs.errors import UserError
from churn_jobs.settings import RuntimeSettings

JOB_NAMES = (
    "feature-table-refresh",
    "model-train",
    "model-deployment",
    "model-inference-batch",
    "initial-model-train-register",
    "integration-test",
    "model-monitoring",
)
"""Short names of every job; the deployed name is ``<ENV>-churn-<job>``."""


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


class Cluster(Strict):
    """The one job cluster every task of a job shares: node types or an instance pool."""

    spark_version: str = Field(description="Databricks Runtime, e.g. 17.3.x-cpu-ml-scala2.13")
    node_type_id: str | None = None
    driver_node_type_id: str | None = None
    instance_pool_id: str | None = None
    driver_instance_pool_id: str | None = None
    num_workers: int | None = Field(default=None, ge=0)
    autoscale: Autoscale | None = None
    data_security_mode: Literal["SINGLE_USER", "USER_ISOLATION", "NONE"] = "SINGLE_USER"
    policy_id: str | None = None
    spark_conf: dict[str, str] = Field(default_factory=dict)
    custom_tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Cluster:
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

    @model_validator(mode="after")
    def _one_principal(self) -> Permission:
        given = [p for p in (self.group_name, self.user_name, self.service_principal_name) if p]
        if len(given) != 1:
            raise ValueError("set exactly one of group_name, user_name, service_principal_name")
        return self


class RunAs(Strict):
    user_name: str | None = None
    service_principal_name: str | None = None

    @model_validator(mode="after")
    def _one_principal(self) -> RunAs:
        if (self.user_name is None) == (self.service_principal_name is None):
            raise ValueError("set exactly one of user_name or service_principal_name")
        return self


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
    max_concurrent_runs: int = Field(default=1, ge=1)
    timeout_seconds: int = Field(default=0, ge=0, description="Per job run; 0 means no limit")
    require_clean_git: bool = Field(
        default=False, description="Refuse to deploy from a git tree with uncommitted changes"
    )

    @model_validator(mode="after")
    def _checks(self) -> DatabricksTarget:
        if not self.artifact_location.startswith(("/Volumes/", "/Workspace/")):
            raise ValueError("artifact_location must start with /Volumes/ or /Workspace/")
        if unknown := sorted(set(self.schedules) - set(JOB_NAMES)):
            raise ValueError(f"schedules name unknown jobs {unknown}; known: {list(JOB_NAMES)}")
        return self


class IntegrationTest(Strict):
    """Where the integration-test job writes: separate tables, experiment and model."""

    schema_name: str = Field(alias="schema")
    experiment: str
    registered_model_name: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def apply(self, runtime: RuntimeSettings) -> RuntimeSettings:
        return runtime.model_copy(
            update={
                "schema_name": self.schema_name,
                "experiment": self.experiment,
                "registered_model_name": self.registered_model_name,
            }
        )


class Environment(Strict):
    name: str
    runtime: RuntimeSettings
    databricks: DatabricksTarget | None = None
    integration_test: IntegrationTest | None = None

    @model_validator(mode="after")
    def _platform_matches(self) -> Environment:
        if self.runtime.environment != self.name:
            raise ValueError(
                f"runtime.environment is {self.runtime.environment!r} in the file {self.name}.yaml"
            )
        if self.runtime.platform == "databricks" and self.databricks is None:
            raise ValueError("runtime.platform is databricks: add a databricks: section")
        if self.runtime.platform == "local" and self.databricks is not None:
            raise ValueError("runtime.platform is local: remove the databricks: section")
        return self

    @property
    def is_local(self) -> bool:
        return self.databricks is None

    def job_name(self, job: str) -> str:
        return f"{self.name.upper()}-churn-{job}"


def load_environment(name: str, infra_dir: Path) -> Environment:
    """Read and validate ``infra_dir/environments/<name>.yaml``.

    Raises UserError naming the known environments, or every invalid field.
    """
    path = environment_file(name, infra_dir)
    data = read_yaml(path)
    try:
        return Environment.model_validate({**data, "name": name})
    except ValidationError as exc:
        raise UserError(format_validation_error(str(path), exc), "fix the listed fields") from None


def resolve_paths(infra_dir: Path | None, repo_root: Path | None) -> tuple[Path, Path]:
    """``infra/`` (default: $CHURN_INFRA_DIR, else found from the cwd) and its parent."""
    infra = (infra_dir or find_infra_dir()).resolve()
    return infra, (repo_root or infra.parent).resolve()
