"""Each task's wheels, installed by pip on the job cluster, must leave the Databricks runtime's
own packages alone: no open-source pyspark / delta-spark over the runtime's, no floor above a
preinstalled version (pip would replace it), every dependency accounted for in the runtime file
(infra/runtimes/*.txt, which names its source and DBR version)."""

from __future__ import annotations

import tomllib
from importlib.metadata import requires as installed_requires
from pathlib import Path, PurePosixPath

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from churn_infra.environment import load_environment
from churn_infra.jobs import build_job, job_names
from churn_infra.release import Release, workspace_members
from churn_infra.runtime_constraints import (
    Runtime,
    read_runtime,
    runtime_for,
    violations,
    wheel_requirements,
)


@pytest.fixture(scope="module")
def runtimes_dir(infra_dir: Path) -> Path:
    return infra_dir / "runtimes"


def _databricks_envs(infra_dir: Path) -> list[str]:
    names = sorted(p.stem for p in (infra_dir / "environments").glob("*.yaml"))
    return [n for n in names if load_environment(n, infra_dir).databricks is not None]


def test_every_databricks_environment_targets_a_recorded_runtime(
    infra_dir: Path, runtimes_dir: Path
) -> None:
    envs = _databricks_envs(infra_dir)
    assert envs  # dev, staging, prod
    for name in envs:
        target = load_environment(name, infra_dir).databricks
        assert target is not None
        spark_version = target.cluster.spark_version
        assert runtime_for(spark_version, runtimes_dir) is not None, (
            f"{name}: no infra/runtimes/*.txt describes spark_version {spark_version}"
        )


def test_each_task_s_wheels_leave_the_runtime_alone(
    built_release: Release, infra_dir: Path, runtimes_dir: Path
) -> None:
    assert built_release.wheel_dir is not None
    checked = 0
    for name in _databricks_envs(infra_dir):
        env = load_environment(name, infra_dir)
        for job in job_names(env):
            settings = build_job(env, job, built_release)
            clusters = {c.job_cluster_key: c.new_cluster for c in settings.job_clusters or []}
            for task in settings.tasks or []:
                cluster = clusters[task.job_cluster_key]
                assert cluster is not None
                assert cluster.spark_version
                runtime = runtime_for(cluster.spark_version, runtimes_dir)
                assert runtime is not None, f"{name}/{job}: {cluster.spark_version}"
                files = [PurePosixPath(lib.whl).name for lib in task.libraries or [] if lib.whl]
                assert files, f"{name}/{job}/{task.task_key} attaches no wheel"
                attached = [f.split("-", 1)[0].replace("_", "-") for f in files]
                for file in files:
                    requires = wheel_requirements(built_release.wheel_dir / file)
                    problems = violations(requires, runtime, attached)
                    assert problems == [], f"{name}/{job}/{task.task_key}: {file}"
                    checked += 1
    assert checked > 0


def _local_extra(member_dir: Path) -> list[Requirement]:
    project = tomllib.loads((member_dir / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project.get("optional-dependencies", {}).get("local", [])]


def test_local_spark_and_delta_are_on_the_runtime_s_spark_line(
    repo_root: Path, runtimes_dir: Path, infra_dir: Path
) -> None:
    """Locally the jobs run on open-source pyspark + delta-spark: the same Spark line as the
    runtime the environments deploy to, so what passes here behaves the same there."""
    target = load_environment("prod", infra_dir).databricks
    assert target is not None
    runtime = runtime_for(target.cluster.spark_version, runtimes_dir)
    assert runtime is not None
    spark = runtime.pinned[canonicalize_name("pyspark")]
    line = Version(f"{spark.major}.{spark.minor}.0")
    declaring = 0
    for member in workspace_members(repo_root).values():
        for requirement in _local_extra(member.path):
            if canonicalize_name(requirement.name) in {"pyspark", "delta-spark"}:
                declaring += 1
                assert requirement.specifier.contains(line), f"{member.name}: {requirement}"
                beyond = Version(f"{spark.major}.{spark.minor + 1}.0")
                assert not requirement.specifier.contains(beyond), member.name
    assert declaring >= 6  # churn-features, churn-scoring, churn-jobs: pyspark and delta-spark
    # The installed delta-spark (whose version picks the Delta jars from Maven Central) is built
    # for this Spark line: its own pyspark requirement admits the runtime's Spark version.
    delta_pyspark = [
        Requirement(r)
        for r in installed_requires("delta-spark") or []
        if canonicalize_name(Requirement(r).name) == "pyspark"
    ]
    assert delta_pyspark
    assert all(r.specifier.contains(spark) for r in delta_pyspark)


def test_runtime_provided_packages_are_only_in_the_local_extra(repo_root: Path) -> None:
    for member in workspace_members(repo_root).values():
        project = tomllib.loads((member.path / "pyproject.toml").read_text())["project"]
        required = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
        assert not required & {"pyspark", "delta-spark"}, member.name


# The rule itself, on made-up requirements: each kind of disturbance is reported.

RUNTIME = Runtime(
    name="dbr-test",
    spark_version="99.0.x-cpu-ml-scala2.13",
    pinned={canonicalize_name("mlflow-skinny"): Version("3.8.1")},
    provided=frozenset({canonicalize_name("pyspark"), canonicalize_name("delta-spark")}),
    unverified=frozenset({canonicalize_name("pandas")}),
)


def _check(*lines: str, attached: tuple[str, ...] = ()) -> list[str]:
    return violations([Requirement(line) for line in lines], RUNTIME, attached)


def test_a_provided_package_required_outright_is_reported() -> None:
    (problem,) = _check("pyspark>=4.1,<4.2")
    assert "provided by dbr-test" in problem
    (problem,) = _check("delta_spark>=4.1")
    assert "delta-spark" in problem


def test_a_floor_above_the_preinstalled_version_is_reported() -> None:
    (problem,) = _check("mlflow-skinny>=3.11,<4")
    assert "has mlflow-skinny 3.8.1; pip would replace it" in problem
    assert _check("mlflow-skinny>=3.8.1,<4") == []


def test_an_unclassified_package_is_reported_and_classified_ones_pass() -> None:
    (problem,) = _check("tomlkit>=0.12")
    assert "not classified" in problem
    assert _check("pandas>=2.2,<3") == []


def test_requirements_behind_an_extra_and_attached_siblings_are_not_checked() -> None:
    assert _check('pyspark>=4.1; extra == "local"') == []
    assert _check("churn-features>=0.1,<1", attached=("churn-features",)) == []
    assert _check("churn-features>=0.1,<1") != []


def test_a_runtime_file_without_its_spark_version_or_with_a_range_is_refused(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("mlflow==3.8.1\n")
    with pytest.raises(ValueError, match="spark_version"):
        read_runtime(bad)
    bad.write_text("#! spark_version: x\nmlflow>=3.8\n")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected name==version"):
        read_runtime(bad)


def test_the_recorded_runtime_names_its_source_and_version(runtimes_dir: Path) -> None:
    for path in sorted(runtimes_dir.glob("*.txt")):
        text = path.read_text()
        assert "https://docs.databricks.com/" in text, path.name
        runtime = read_runtime(path)
        assert runtime.spark_version.split(".")[0] in path.stem, path.name
        assert canonicalize_name("pyspark") in runtime.provided
        assert canonicalize_name("delta-spark") in runtime.provided
