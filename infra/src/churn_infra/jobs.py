"""Job definitions as databricks-sdk ``JobSettings``: one per job per environment.

Every task is a ``python_wheel_task`` on a churn-jobs console script, with the resolved runtime
settings and task parameters inside its ``settings-json`` named parameter; all tasks of a job
share one job cluster. The local runner executes these same objects.

On Databricks the ``model-validation`` job also has a model update trigger on the Unity Catalog
model (``MODEL_VERSION_READY``): a version registered from anywhere is validated, not only those
the ``model-train`` job registers (whose own validation task finds them already checked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from databricks.sdk.service import compute, jobs

from churn_features.ingest import VENDORED
from churn_infra.artifacts import vendored_source
from churn_infra.environment import JOB_NAMES, Cluster, DatabricksTarget, Environment
from churn_infra.errors import InfraError
from churn_infra.release import APPLICATION, Release
from churn_jobs.request import JobRequest

PACKAGE_NAME = APPLICATION
"""The distribution whose console scripts the tasks run."""

JOB_CLUSTER_KEY = "churn_job_cluster"
SETTINGS_PARAMETER = "settings-json"


@dataclass(frozen=True)
class TaskSpec:
    """One step: ``key`` is the task key, the params file name and ``churn-<key>`` the script."""

    key: str
    depends_on: tuple[str, ...] = ()

    @property
    def entry_point(self) -> str:
        return f"churn-{self.key}"


def _chain(*keys: str) -> tuple[TaskSpec, ...]:
    return tuple(TaskSpec(key, (keys[i - 1],) if i else ()) for i, key in enumerate(keys))


JOB_TASKS: dict[str, tuple[TaskSpec, ...]] = {
    # the refreshed table is then published to the online store (churn-serving, Model Serving)
    "feature-table-refresh": _chain("feature-table-refresh", "feature-publish"),
    "model-train": _chain("model-train", "model-validation"),
    "model-validation": _chain("model-validation"),
    "model-deployment": _chain("model-deployment"),
    "model-inference-batch": _chain("model-inference-batch"),
    "initial-model-train-register": _chain(
        "feature-table-refresh", "model-train", "model-validation"
    ),
    "integration-test": _chain(
        "feature-table-refresh",
        "model-train",
        "model-validation",
        "model-deployment",
        "model-inference-batch",
        "model-monitoring",
        "integration-check",
    ),
    "model-monitoring": _chain("model-monitoring"),
}
assert set(JOB_TASKS) == set(JOB_NAMES)


def job_names(env: Environment) -> list[str]:
    """The jobs an environment has: the integration test only where it has test tables."""
    return [j for j in JOB_TASKS if j != "integration-test" or env.integration_test is not None]


def build_job(env: Environment, job: str, release: Release) -> jobs.JobSettings:
    """The definition of ``job``: pure, from the loaded environment and the named release."""
    if job not in job_names(env):
        raise InfraError(
            f"Environment {env.name!r} has no job {job!r} (known: {', '.join(job_names(env))}).",
            "pick one of those",
        )
    target = env.databricks
    libraries = (
        [compute.Library(whl=path) for path in release.remote_wheels(target.artifact_location)]
        if target
        else None
    )
    tasks = [
        jobs.Task(
            task_key=spec.key,
            job_cluster_key=JOB_CLUSTER_KEY,
            depends_on=[jobs.TaskDependency(task_key=d) for d in spec.depends_on] or None,
            python_wheel_task=jobs.PythonWheelTask(
                package_name=PACKAGE_NAME,
                entry_point=spec.entry_point,
                named_parameters={SETTINGS_PARAMETER: _task_request(env, spec.key, job).to_json()},
            ),
            libraries=_task_libraries(spec.key, libraries),
            max_retries=0,
        )
        for spec in JOB_TASKS[job]
    ]
    settings = jobs.JobSettings(
        name=env.job_name(job),
        tags=_tags(env, release),
        tasks=tasks,
        job_clusters=[
            jobs.JobCluster(
                job_cluster_key=JOB_CLUSTER_KEY,
                new_cluster=_cluster(target.cluster, release) if target else _local_cluster(),
            )
        ],
        max_concurrent_runs=target.max_concurrent_runs if target else 1,
        timeout_seconds=target.timeout(job) if target else 0,
        format=jobs.Format.MULTI_TASK,
        **(_databricks_settings(target, job) if target else {}),
        trigger=model_trigger(env) if job == "model-validation" else None,
    )
    # The canonical form, as it travels over the wire (the sdk reads absent lists back as []).
    return jobs.JobSettings.from_dict(settings.as_dict())


def build_jobs(env: Environment, release: Release) -> list[jobs.JobSettings]:
    return [build_job(env, job, release) for job in job_names(env)]


#: What a task needs on a cluster besides the release's wheels. feature-publish publishes through
#: databricks-feature-engineering's Lakebase online store API (>= 0.13, churn-features[databricks]).
TASK_PYPI_LIBRARIES: dict[str, tuple[str, ...]] = {
    "feature-publish": ("databricks-feature-engineering>=0.13",),
}


def _task_libraries(
    task: str, wheels: list[compute.Library] | None
) -> list[compute.Library] | None:
    if wheels is None:  # locally: the installed workspace
        return None
    extra = [
        compute.Library(pypi=compute.PythonPyPiLibrary(package=p))
        for p in TASK_PYPI_LIBRARIES.get(task, ())
    ]
    return wheels + extra


def model_trigger(env: Environment) -> jobs.TriggerSettings | None:
    """Run on every new version of the environment's Unity Catalog model (Databricks "model
    update triggers", Beta): none locally or without Unity Catalog, where triggers do not exist.
    ``securable_name`` is the three-level model name (a two-level name would watch a schema).
    The task's ``version: null`` validates the newest unchecked version (several versions
    registered within one polling minute make one run: the newest is checked, as in model-train)."""
    if env.databricks is None or not env.runtime.catalog:
        return None
    return jobs.TriggerSettings(
        model=jobs.ModelTriggerConfiguration(
            condition=jobs.ModelTriggerConfigurationCondition.MODEL_VERSION_READY,
            securable_name=env.runtime.registered_model_name,
        ),
        pause_status=jobs.PauseStatus.UNPAUSED,
    )


def _tags(env: Environment, release: Release) -> dict[str, str]:
    return {
        "environment": env.name,
        "git_commit": release.git.commit,
        "git_dirty": str(release.git.dirty).lower(),
        "managed_by": "churn-infra",
        **release.versions,
    }


def _task_request(env: Environment, task: str, job: str) -> JobRequest:
    """The one named parameter a task receives (no credentials: auth is the cluster's)."""
    request = env.request(task, job)
    params = request.params
    if env.databricks is None:
        return request
    if task == "model-inference-batch" and params.get("run_id") is None:
        # Databricks substitutes the job run's id: a retried or repaired run replaces its own
        # predictions instead of appending a second copy.
        params = {**params, "run_id": "{{job.run_id}}"}
    if task == "feature-table-refresh" and params.get("source", VENDORED) == VENDORED:
        # the copy deploy staged on the artifacts volume (see artifacts.vendored_source)
        params = {**params, "source": vendored_source(env.databricks.artifact_location)}
    return request.model_copy(update={"params": params})


def _cluster(cluster: Cluster, release: Release) -> compute.ClusterSpec:
    return compute.ClusterSpec(
        spark_version=cluster.spark_version,
        node_type_id=cluster.node_type_id,
        driver_node_type_id=cluster.driver_node_type_id,
        instance_pool_id=cluster.instance_pool_id,
        driver_instance_pool_id=cluster.driver_instance_pool_id,
        num_workers=cluster.num_workers,
        autoscale=(
            compute.AutoScale(
                min_workers=cluster.autoscale.min_workers,
                max_workers=cluster.autoscale.max_workers,
            )
            if cluster.autoscale
            else None
        ),
        data_security_mode=compute.DataSecurityMode(cluster.data_security_mode),
        policy_id=cluster.policy_id,
        spark_conf=cluster.spark_conf or None,
        custom_tags=cluster.custom_tags or None,
        # read by churn-jobs' lineage tags (the wheels carry no git metadata)
        spark_env_vars={"CHURN_GIT_COMMIT": release.git.commit},
    )


def _local_cluster() -> compute.ClusterSpec:
    """The local runner's "cluster": this process, one Spark session per job run."""
    return compute.ClusterSpec(num_workers=0, spark_conf={"spark.master": "local[*]"})


def _databricks_settings(target: DatabricksTarget, job: str) -> dict[str, Any]:
    schedule = target.schedules.get(job)
    emails = target.notification_emails
    run_as = target.run_as
    return {
        "schedule": (
            jobs.CronSchedule(
                quartz_cron_expression=schedule.quartz_cron_expression,
                timezone_id=schedule.timezone_id,
                pause_status=jobs.PauseStatus.PAUSED
                if schedule.paused
                else jobs.PauseStatus.UNPAUSED,
            )
            if schedule
            else None
        ),
        "email_notifications": (
            jobs.JobEmailNotifications(on_failure=list(emails)) if emails else None
        ),
        "run_as": (
            jobs.JobRunAs(
                user_name=run_as.user_name, service_principal_name=run_as.service_principal_name
            )
            if run_as
            else None
        ),
    }


def access_control_list(
    target: DatabricksTarget, deployer: str
) -> list[jobs.JobAccessControlRequest]:
    """The job's permissions with exactly one IS_OWNER: the file's ``owner:``, else ``run_as``,
    else ``deployer`` (the user deploying). The Permissions API replaces the whole list and
    rejects one without an owner ("The job must have exactly one owner"; databricks/cli#3849,
    fixed the same way in databricks/cli#5821)."""
    owner = target.stated_owner
    acl = [
        jobs.JobAccessControlRequest(
            user_name=owner.user_name if owner else deployer,
            service_principal_name=owner.service_principal_name if owner else None,
            permission_level=jobs.JobPermissionLevel.IS_OWNER,
        )
    ]
    for p in target.permissions:
        if (owner and owner.same_principal(p)) or (not owner and p.user_name == deployer):
            continue  # the owner can do everything already; a second entry would conflict
        acl.append(
            jobs.JobAccessControlRequest(
                group_name=p.group_name,
                user_name=p.user_name,
                service_principal_name=p.service_principal_name,
                permission_level=jobs.JobPermissionLevel(p.level),
            )
        )
    return acl
