"""Environment files: every one validates, mistakes are one clear UserError."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from churn_infra.environment import Environment, load_environment
from churn_jobs.environments import available_environments, load_runtime_settings
from churn_jobs.errors import UserError

ENVIRONMENTS = ("local", "dev", "staging", "prod")


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_environment_validates_and_agrees_with_churn_jobs(name: str, infra_dir: Path) -> None:
    env = load_environment(name, infra_dir)
    assert env.runtime == load_runtime_settings(name, infra_dir)
    assert env.is_local == (name == "local")


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_databricks_environments_use_unity_catalog(name: str, infra_dir: Path) -> None:
    env = load_environment(name, infra_dir)
    runtime = env.runtime
    assert runtime.catalog == f"churn_{name}"
    assert runtime.registered_model_name.split(".")[:2] == [runtime.catalog, runtime.schema_name]
    assert runtime.registered_model_name.count(".") == 2
    assert runtime.registry_mode == "aliases"
    assert runtime.experiment == f"/Shared/churn/{name}"


def test_only_staging_and_local_have_an_integration_test(infra_dir: Path) -> None:
    with_test = [n for n in ENVIRONMENTS if load_environment(n, infra_dir).integration_test]
    assert sorted(with_test) == ["local", "staging"]


def test_prod_refuses_dirty_trees_and_uses_a_pool(infra_dir: Path) -> None:
    target = load_environment("prod", infra_dir).databricks
    assert target is not None
    assert target.require_clean_git
    assert target.cluster.instance_pool_id
    assert target.cluster.node_type_id is None


def test_unknown_environment_lists_the_known_ones(infra_dir: Path) -> None:
    with pytest.raises(UserError) as caught:
        load_environment("qa", infra_dir)
    message = str(caught.value)
    assert "'qa'" in message
    for name in available_environments(infra_dir):
        assert name in message


def _write_env(tmp_path: Path, infra_dir: Path, name: str, edit) -> Path:
    target = tmp_path / "infra"
    shutil.copytree(infra_dir / "environments", target / "environments")
    path = target / "environments" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return target


def test_a_token_in_the_file_is_rejected(tmp_path: Path, infra_dir: Path) -> None:
    def add_token(data: dict) -> None:
        data["databricks"]["workspace"]["token"] = "dapi-secret"

    target = _write_env(tmp_path, infra_dir, "dev", add_token)
    with pytest.raises(UserError, match=r"databricks\.workspace\.token"):
        load_environment("dev", target)


def test_a_typo_names_the_field(tmp_path: Path, infra_dir: Path) -> None:
    def typo(data: dict) -> None:
        data["databricks"]["cluster"]["num_worker"] = 2

    target = _write_env(tmp_path, infra_dir, "staging", typo)
    with pytest.raises(UserError, match=r"num_worker"):
        load_environment("staging", target)


def test_schedules_must_name_known_jobs(tmp_path: Path, infra_dir: Path) -> None:
    def bad_schedule(data: dict) -> None:
        data["databricks"]["schedules"]["model-trian"] = {"quartz_cron_expression": "0 0 1 * * ?"}

    target = _write_env(tmp_path, infra_dir, "dev", bad_schedule)
    with pytest.raises(UserError, match="model-trian"):
        load_environment("dev", target)


@pytest.mark.parametrize(
    ("cluster", "problem"),
    [
        ({"spark_version": "x", "node_type_id": "n"}, "num_workers or autoscale"),
        ({"spark_version": "x", "num_workers": 1}, "node_type_id or instance_pool_id"),
        (
            {"spark_version": "x", "node_type_id": "n", "instance_pool_id": "p", "num_workers": 1},
            "node_type_id or instance_pool_id",
        ),
    ],
)
def test_cluster_spec_is_consistent(cluster: dict, problem: str, infra_dir: Path) -> None:
    env = load_environment("dev", infra_dir).model_dump(by_alias=True)
    env["databricks"]["cluster"] = cluster
    with pytest.raises(ValueError, match=problem):
        Environment.model_validate(env)
