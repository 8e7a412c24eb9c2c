"""Environment files: every one validates, mistakes are one clear UserError."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from churn_infra.environment import (
    Environment,
    available_environments,
    load_environment,
    params_file,
)
from churn_jobs.environments import load_runtime_settings, request_for
from churn_jobs.errors import UserError
from churn_jobs.runner import job_module

ENVIRONMENTS = ("local", "dev", "staging", "prod")


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_environment_validates_and_derives_name_and_platform(
    name: str, infra_dir: Path
) -> None:
    env = load_environment(name, infra_dir)
    assert env.runtime.environment == name
    assert env.runtime.platform == ("local" if name == "local" else "databricks")
    assert env.is_local == (name == "local")
    # the churn CLI reads the same file through the loader churn-infra registers
    assert load_runtime_settings(name, infra_dir) == env.runtime
    assert request_for("model-train", name, None, infra_dir) == env.request("model-train")


@pytest.mark.parametrize("key", ["environment", "platform", "workspace_profile"])
def test_derived_runtime_keys_are_refused(tmp_path: Path, infra_dir: Path, key: str) -> None:
    def add(data: dict) -> None:
        data["runtime"][key] = "dev" if key != "platform" else "databricks"

    target = _write_env(tmp_path, infra_dir, "dev", add)
    with pytest.raises(UserError, match=rf"runtime\.{key} .*derived") as caught:
        load_environment("dev", target)
    assert f"remove {key}" in str(caught.value)


def test_params_override_per_environment(tmp_path: Path) -> None:
    (tmp_path / "params" / "prod").mkdir(parents=True)
    (tmp_path / "params" / "model-train.yaml").write_text("a: 1\n")
    (tmp_path / "params" / "prod" / "model-train.yaml").write_text("a: 2\n")
    assert params_file("model-train", "dev", tmp_path).parent == tmp_path / "params"
    assert params_file("model-train", "prod", tmp_path).parent == tmp_path / "params" / "prod"


def test_shipped_params_files_are_valid(infra_dir: Path) -> None:
    for path in sorted((infra_dir / "params").glob("*.yaml")):
        job = path.stem.removesuffix("-depth8")
        request = request_for(job, "local", path, infra_dir)
        job_module(job).Params.model_validate(request.params)


def test_a_bad_params_file_fails_loading_through_the_jobs_params_model(
    tmp_path: Path, infra_dir: Path
) -> None:
    target = _write_env(tmp_path, infra_dir, "prod", lambda data: None)
    params = target / "params" / "model-train.yaml"
    params.write_text(params.read_text().replace("max_depth: 4", "max_depth: deep"))
    with pytest.raises(UserError, match=r"(?s)model-train\.yaml is invalid:\n.*max_depth"):
        load_environment("prod", target)


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


def test_prod_refuses_dirty_trees_and_has_one_stated_owner(infra_dir: Path) -> None:
    target = load_environment("prod", infra_dir).databricks
    assert target is not None
    assert target.require_clean_git
    assert target.stated_owner == target.run_as


POOL = "1117-140523-cube591-pool-7h1sb8tq"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"instance_pool_id": "churn-prod-workers"}, "not an instance pool id"),
        ({"data_security_mode": "USER_ISOLATION"}, "not dedicated compute"),
        ({"data_security_mode": "NONE"}, "sparkContext.broadcast"),
    ],
)
def test_placeholder_pools_and_shared_access_modes_are_refused(
    tmp_path: Path, infra_dir: Path, edit: dict, message: str
) -> None:
    def apply(data: dict) -> None:
        cluster = data["databricks"]["cluster"]
        if "instance_pool_id" in edit:
            cluster.pop("node_type_id")
        cluster.update(edit)

    target = _write_env(tmp_path, infra_dir, "prod", apply)
    with pytest.raises(UserError, match=message):
        load_environment("prod", target)


def test_a_real_looking_pool_id_is_accepted(tmp_path: Path, infra_dir: Path) -> None:
    def apply(data: dict) -> None:
        data["databricks"]["cluster"].pop("node_type_id")
        data["databricks"]["cluster"]["instance_pool_id"] = POOL

    target = _write_env(tmp_path, infra_dir, "prod", apply)
    assert load_environment("prod", target).databricks.cluster.instance_pool_id == POOL  # type: ignore[union-attr]


def test_every_job_has_a_timeout_and_zero_is_refused(tmp_path: Path, infra_dir: Path) -> None:
    target = load_environment("dev", infra_dir).databricks
    assert target is not None
    assert all(target.timeout(job) > 0 for job in target.schedules)

    def zero(data: dict) -> None:
        data["databricks"]["timeouts"] = {"model-train": 0}

    with pytest.raises(UserError, match=r"(?s)\['model-train'\] are 0.*silently skip"):
        load_environment("dev", _write_env(tmp_path, infra_dir, "dev", zero))


def test_is_owner_in_permissions_is_refused(tmp_path: Path, infra_dir: Path) -> None:
    def owner(data: dict) -> None:
        data["databricks"]["permissions"].append({"user_name": "a@b.c", "level": "IS_OWNER"})

    with pytest.raises(UserError, match="exactly one owner"):
        load_environment("dev", _write_env(tmp_path, infra_dir, "dev", owner))


def test_the_integration_experiment_must_be_a_sibling(tmp_path: Path, infra_dir: Path) -> None:
    env = load_environment("staging", infra_dir)
    assert env.integration_test is not None
    main, test = env.runtime.experiment, env.integration_test.experiment
    assert not test.startswith(main + "/")
    assert test.rsplit("/", 1)[0] == main.rsplit("/", 1)[0]

    def nest(data: dict) -> None:
        data["integration_test"]["experiment"] = "/Shared/churn/staging/integration-test"

    with pytest.raises(UserError, match="an experiment cannot hold another"):
        load_environment("staging", _write_env(tmp_path, infra_dir, "staging", nest))


@pytest.mark.parametrize("name", ["dev", "staging", "prod"])
def test_the_runtime_carries_the_workspace_profile(name: str, infra_dir: Path) -> None:
    env = load_environment(name, infra_dir)
    assert env.databricks is not None
    assert env.runtime.workspace_profile == env.databricks.workspace.profile == f"churn-{name}"


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
    shutil.copytree(infra_dir / "params", target / "params")
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
            {
                "spark_version": "x",
                "node_type_id": "n",
                "instance_pool_id": "1117-140523-cube591-pool-7h1sb8tq",
                "num_workers": 1,
            },
            "node_type_id or instance_pool_id",
        ),
    ],
)
def test_cluster_spec_is_consistent(cluster: dict, problem: str, infra_dir: Path) -> None:
    env = load_environment("dev", infra_dir).model_dump(by_alias=True)
    env["databricks"]["cluster"] = cluster
    with pytest.raises(ValueError, match=problem):
        Environment.model_validate(env)


def test_databricks_environments_declare_their_serving_endpoint(infra_dir: Path) -> None:
    for name, warm in (("dev", False), ("staging", False), ("prod", True)):
        env = load_environment(name, infra_dir)
        assert env.serving is not None
        assert env.serving.name == f"{name}-churn-serving"  # the default name
        assert env.serving.scale_to_zero is not warm
        assert env.serving.capture
        # model-deployment, `churn promote` and `churn rollback` receive it as a task parameter
        endpoint = request_for("model-deployment", name, None, infra_dir).params
        assert endpoint["serving_endpoint"] == env.serving.model_dump()
    assert load_environment("local", infra_dir).serving is None
    assert (
        "serving_endpoint" not in request_for("model-deployment", "local", None, infra_dir).params
    )
    staging = load_environment("staging", infra_dir)
    assert "serving_endpoint" not in staging.request("model-deployment", "integration-test").params


@pytest.mark.parametrize(
    ("serving", "problem"),
    [
        ({"workload_size": "Huge"}, r"workload_size"),
        ({"scale_to_zero": True, "capture_table": True}, r"capture_table"),
        ({"name": "dev churn!"}, r"serving\.name"),
    ],
)
def test_a_bad_serving_section_names_the_field(
    tmp_path: Path, infra_dir: Path, serving: dict, problem: str
) -> None:
    def set_serving(data: dict) -> None:
        data["databricks"]["serving"] = serving

    target = _write_env(tmp_path, infra_dir, "dev", set_serving)
    with pytest.raises(UserError, match=problem):
        load_environment("dev", target)


def test_serving_needs_a_unity_catalog_model(tmp_path: Path, infra_dir: Path) -> None:
    def no_catalog(data: dict) -> None:
        del data["runtime"]["catalog"]
        data["runtime"]["registered_model_name"] = "churn_model"

    target = _write_env(tmp_path, infra_dir, "dev", no_catalog)
    with pytest.raises(UserError, match="serving needs a Unity Catalog model"):
        load_environment("dev", target)


def test_the_validation_job_is_triggered_not_scheduled(tmp_path: Path, infra_dir: Path) -> None:
    def schedule(data: dict) -> None:
        data["databricks"]["schedules"]["model-validation"] = {
            "quartz_cron_expression": "0 0 1 * * ?"
        }

    target = _write_env(tmp_path, infra_dir, "dev", schedule)
    with pytest.raises(UserError, match="model update trigger"):
        load_environment("dev", target)
