"""Job definitions: round-trip through databricks-sdk, one shared cluster, real entry points."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from databricks.sdk.service.jobs import JobSettings

from churn_infra.artifacts import vendored_source
from churn_infra.environment import JOB_PARAM_OVERRIDES, load_environment
from churn_infra.jobs import JOB_TASKS, PACKAGE_NAME, SETTINGS_PARAMETER, build_jobs, job_names
from churn_infra.release import GitState, predict_release
from churn_infra.settings_diff import settings_diff
from churn_jobs.settings import RuntimeSettings

ENVIRONMENTS = ("local", "dev", "staging", "prod")
GIT = GitState(commit="0123456789abcdef0123456789abcdef01234567", dirty=False)


def _jobs(name: str, infra_dir: Path, repo_root: Path) -> list[JobSettings]:
    env = load_environment(name, infra_dir)
    return build_jobs(env, predict_release(repo_root, GIT))


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_job_round_trips_through_the_sdk(name: str, infra_dir: Path, repo_root: Path) -> None:
    for settings in _jobs(name, infra_dir, repo_root):
        assert JobSettings.from_dict(settings.as_dict()) == settings
        # and through JSON, as it travels over the wire
        assert JobSettings.from_dict(json.loads(json.dumps(settings.as_dict()))) == settings


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_names_tasks_and_one_shared_cluster(name: str, infra_dir: Path, repo_root: Path) -> None:
    env = load_environment(name, infra_dir)
    jobs = _jobs(name, infra_dir, repo_root)
    assert [j.name for j in jobs] == [f"{name.upper()}-churn-{job}" for job in job_names(env)]
    for settings in jobs:
        assert settings.job_clusters is not None
        assert len(settings.job_clusters) == 1
        key = settings.job_clusters[0].job_cluster_key
        for task in settings.tasks or []:
            assert task.job_cluster_key == key
            assert task.new_cluster is None
            assert task.existing_cluster_id is None
            assert task.python_wheel_task is not None
            assert task.python_wheel_task.package_name == PACKAGE_NAME


def test_initial_train_register_is_chained(infra_dir: Path, repo_root: Path) -> None:
    jobs = {j.name: j for j in _jobs("prod", infra_dir, repo_root)}
    tasks = jobs["PROD-churn-initial-model-train-register"].tasks or []
    edges = {t.task_key: [d.task_key for d in t.depends_on or []] for t in tasks}
    assert edges == {
        "feature-table-refresh": [],
        "model-train": ["feature-table-refresh"],
        "model-validation": ["model-train"],
    }
    entry = {t.task_key: t.python_wheel_task.entry_point for t in tasks if t.python_wheel_task}
    assert entry["model-train"] == "churn-model-train"


def test_staging_integration_test_runs_the_chain_on_test_tables(
    infra_dir: Path, repo_root: Path
) -> None:
    env = load_environment("staging", infra_dir)
    jobs = {j.name: j for j in _jobs("staging", infra_dir, repo_root)}
    job = jobs["STAGING-churn-integration-test"]
    keys = [t.task_key for t in job.tasks or []]
    assert keys[-2:] == ["model-monitoring", "integration-check"]
    assert len(keys) == 7
    for task in job.tasks or []:
        assert task.python_wheel_task is not None
        payload = json.loads(task.python_wheel_task.named_parameters[SETTINGS_PARAMETER])
        runtime = RuntimeSettings.model_validate(payload["runtime"])
        assert runtime.schema_name == "churn_integration" != env.runtime.schema_name
        assert runtime.registered_model_name != env.runtime.registered_model_name
        # fresh test tables have no champion: only here may deployment promote the first one
        first_champion = payload["params"].get("promote_when_no_champion", False)
        assert first_champion is (task.task_key == "model-deployment"), task.task_key
        if task.task_key == "model-monitoring":  # never runs the environment's retraining
            assert payload["params"]["retrain"] == {"enabled": False}
        if task.task_key == "integration-check":
            assert payload["params"]["require_monitoring"] is True
    scheduled = jobs["STAGING-churn-model-deployment"].tasks or []
    payload = json.loads(scheduled[0].python_wheel_task.named_parameters[SETTINGS_PARAMETER])
    assert payload["params"]["promote_when_no_champion"] is False
    assert "DEV-churn-integration-test" not in {j.name for j in _jobs("dev", infra_dir, repo_root)}


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_tasks_attach_the_job_wheel_and_its_siblings_only(
    name: str, infra_dir: Path, repo_root: Path
) -> None:
    env = load_environment(name, infra_dir)
    assert env.databricks is not None
    release = predict_release(repo_root, GIT)
    assert release.path.startswith(f"{GIT.short}-")
    assert len(release.content_hash) == 10
    expected = sorted(
        f"{env.databricks.artifact_location}/releases/{release.path}/{w}"
        for w in release.wheel_files
    )
    # churn-jobs and the packages it depends on; never the deploy tool itself
    assert [m.name for m in release.members] == [
        "churn-features",
        "churn-jobs",
        "churn-local-spark",
        "churn-model",
        "churn-monitoring",
        "churn-registry-ops",
        "churn-scoring",
    ]
    assert not any("churn_infra" in w for w in expected)
    for settings in _jobs(name, infra_dir, repo_root):
        assert settings.tags is not None
        assert settings.tags["git_commit"] == GIT.commit
        assert settings.tags["environment"] == name
        assert settings.tags["churn-jobs"] == release.versions["churn-jobs"]
        for task in settings.tasks or []:
            assert sorted(lib.whl for lib in task.libraries or [] if lib.whl) == expected


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_settings_json_carries_runtime_and_params(
    name: str, infra_dir: Path, repo_root: Path
) -> None:
    env = load_environment(name, infra_dir)
    for settings in _jobs(name, infra_dir, repo_root):
        for task in settings.tasks or []:
            assert task.python_wheel_task is not None
            payload = json.loads(task.python_wheel_task.named_parameters[SETTINGS_PARAMETER])
            assert set(payload) == {"runtime", "params"}
            assert RuntimeSettings.model_validate(payload["runtime"]).environment == name
            # the shipped params file, as written (no per-environment overrides are shipped)
            expected = yaml.safe_load((infra_dir / "params" / f"{task.task_key}.yaml").read_text())
            if env.databricks and task.task_key == "model-inference-batch":
                # a retried run rewrites its own predictions: the run id is the job run's
                expected["run_id"] = "{{job.run_id}}"
            if env.databricks and task.task_key == "feature-table-refresh":
                # clusters read the vendored file where deploy staged it, never a local path
                assert expected["source"] == "vendored"
                expected["source"] = vendored_source(env.databricks.artifact_location)
                assert expected["source"].startswith(env.databricks.artifact_location + "/data/")
            # the endpoint that follows the champion, from databricks.serving; never in the
            # integration test, which promotes versions of its own test model
            if (
                env.serving
                and task.task_key == "model-deployment"
                and _short(settings.name) != "integration-test"
            ):
                expected["serving_endpoint"] = env.serving.model_dump()
                assert expected["serving_endpoint"]["name"] == f"{name}-churn-serving"
            # a task's params inside one job only (e.g. the integration test's first champion)
            expected.update(JOB_PARAM_OVERRIDES.get((_short(settings.name), task.task_key), {}))
            assert payload["params"] == expected


def _short(job_name: str | None) -> str:
    """``STAGING-churn-model-train`` -> ``model-train``."""
    assert job_name is not None
    return job_name.split("-churn-", 1)[1]


def test_a_param_change_is_a_one_line_change_of_the_definition(
    tmp_path: Path, infra_dir: Path, repo_root: Path
) -> None:
    """Changing max_depth in params/model-train.yaml changes exactly that value in the job."""
    copy = tmp_path / "infra"
    shutil.copytree(infra_dir, copy, ignore=shutil.ignore_patterns("src", "tests", "*.md"))
    params = copy / "params" / "model-train.yaml"
    assert "    max_depth: 4\n" in params.read_text()  # the seed's baseline
    before = {j.name: j.as_dict() for j in _jobs("dev", copy, repo_root)}
    params.write_text(params.read_text().replace("max_depth: 4", "max_depth: 8"))
    after = {j.name: j.as_dict() for j in _jobs("dev", copy, repo_root)}
    changed = [n for n in before if before[n] != after[n]]
    assert changed == ["DEV-churn-model-train", "DEV-churn-initial-model-train-register"]
    diff = settings_diff("DEV-churn-model-train", before[changed[0]], after[changed[0]])
    lines = [line.replace(" ", "").rstrip(",") for line in diff.splitlines()]
    assert [line for line in lines if line[:1] in "+-" and line[:3] not in ("---", "+++")] == [
        '-"max_depth":4',
        '+"max_depth":8',
    ]


# -- entry points ------------------------------------------------------------------------------


def declared_console_scripts(repo_root: Path) -> dict[str, set[str]]:
    """Console scripts per distribution, from installed metadata and from the pyproject files."""
    declared: dict[str, set[str]] = {}
    for ep in importlib.metadata.entry_points(group="console_scripts"):
        if ep.dist is not None:
            declared.setdefault(ep.dist.name.replace("_", "-").lower(), set()).add(ep.name)
    for pyproject in [
        *repo_root.glob("packages/*/pyproject.toml"),
        *repo_root.glob("services/*/pyproject.toml"),
    ]:
        project = tomllib.loads(pyproject.read_text())["project"]
        declared.setdefault(project["name"], set()).update(project.get("scripts", {}))
    return declared


def undeclared_entry_points(jobs: list[JobSettings], declared: dict[str, set[str]]) -> list[str]:
    missing = []
    for settings in jobs:
        for task in settings.tasks or []:
            wheel = task.python_wheel_task
            assert wheel is not None
            if wheel.entry_point not in declared.get(wheel.package_name, set()):
                missing.append(
                    f"{settings.name}/{task.task_key}: {wheel.package_name}:{wheel.entry_point}"
                )
    return missing


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_entry_point_is_declared_by_its_package(
    name: str, infra_dir: Path, repo_root: Path
) -> None:
    declared = declared_console_scripts(repo_root)
    assert undeclared_entry_points(_jobs(name, infra_dir, repo_root), declared) == []


def test_the_entry_point_check_catches_a_typo(infra_dir: Path, repo_root: Path) -> None:
    settings = _jobs("dev", infra_dir, repo_root)[0]
    data = settings.as_dict()
    data["tasks"][0]["python_wheel_task"]["entry_point"] = "churn-feature-table-refesh"
    broken = JobSettings.from_dict(data)
    missing = undeclared_entry_points([broken], declared_console_scripts(repo_root))
    assert len(missing) == 1
    assert missing[0].endswith("churn-jobs:churn-feature-table-refesh")


def test_job_catalog_covers_each_task_once_per_job() -> None:
    for job, tasks in JOB_TASKS.items():
        keys = [t.key for t in tasks]
        assert len(keys) == len(set(keys)), job


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_refresh_publishes_and_validation_is_triggered_on_databricks(
    name: str, infra_dir: Path, repo_root: Path
) -> None:
    env = load_environment(name, infra_dir)
    jobs = {j.name: j for j in _jobs(name, infra_dir, repo_root)}
    refresh = jobs[env.job_name("feature-table-refresh")].tasks or []
    edges = {t.task_key: [d.task_key for d in t.depends_on or []] for t in refresh}
    assert edges == {"feature-table-refresh": [], "feature-publish": ["feature-table-refresh"]}
    publish = refresh[1]
    assert publish.python_wheel_task is not None
    assert publish.python_wheel_task.entry_point == "churn-feature-publish"
    pypi = [lib.pypi.package for lib in publish.libraries or [] if lib.pypi]
    assert pypi == ([] if env.is_local else ["databricks-feature-engineering>=0.13"])

    validation = jobs[env.job_name("model-validation")]
    assert [t.task_key for t in validation.tasks or []] == ["model-validation"]
    if env.is_local:
        assert validation.trigger is None  # no model update triggers outside Databricks
        return
    assert validation.schedule is None
    assert validation.trigger is not None
    assert validation.trigger.model is not None
    assert validation.trigger.model.condition.value == "MODEL_VERSION_READY"
    assert validation.trigger.model.securable_name == env.runtime.registered_model_name
    assert validation.trigger.model.securable_name.count(".") == 2  # a model, not a schema
    for other, settings in jobs.items():
        if other != validation.name:
            assert settings.trigger is None
