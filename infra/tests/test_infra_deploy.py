"""Deploy against the FAKE workspace, driven by the real databricks-sdk client over HTTP."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from fake_serving import FakeServingWorkspace
from fake_workspace import FakeWorkspace, Fault
from rich.console import Console
from typer.testing import CliRunner

from churn_features.dataset import vendored_csv_path
from churn_infra.artifacts import vendored_source
from churn_infra.cli import app
from churn_infra.deploy import deploy
from churn_infra.environment import load_environment
from churn_infra.release import GitState, Release
from churn_jobs.errors import UserError


def _deploy(env: str, infra: Path, repo: Path, client: WorkspaceClient, release: Release, **kw):
    console = Console(record=True, width=200)
    result = deploy(
        env, infra_dir=infra, repo_root=repo, client=client, release=release, console=console, **kw
    )
    return result, console.export_text()


def _job_names(fake: FakeWorkspace) -> list[str]:
    return sorted(job["settings"]["name"] for job in fake.state.jobs.values())


def test_deploy_twice_updates_and_never_duplicates(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    first, _ = _deploy("staging", infra_dir, repo_root, client, built_release)
    assert {d.action for d in first.deployed} == {"create"}
    ids = {d.name: d.job_id for d in first.deployed}
    names = _job_names(fake)
    assert len(names) == 8
    assert "STAGING-churn-integration-test" in names

    second, text = _deploy("staging", infra_dir, repo_root, client, built_release)
    assert {d.action for d in second.deployed} == {"update"}
    assert {d.name: d.job_id for d in second.deployed} == ids
    assert _job_names(fake) == names
    calls = [(r.method, r.path) for r in fake.requests]
    assert calls.count(("POST", "/api/2.2/jobs/create")) == 8
    assert calls.count(("POST", "/api/2.2/jobs/reset")) == 8
    for job_id in ids.values():
        assert f"{fake.host}/jobs/{job_id}" in text


def test_stored_jobs_equal_the_definitions(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    clean = dataclasses.replace(built_release, git=GitState(built_release.git.commit, dirty=False))
    result, _ = _deploy("prod", infra_dir, repo_root, client, clean)
    for plan, done in zip(result.plans, result.deployed, strict=True):
        assert fake.state.jobs[done.job_id]["settings"] == plan.settings.as_dict()
        acl = fake.state.permissions[done.job_id]
        assert {"group_name": "churn-operators", "permission_level": "CAN_MANAGE_RUN"} in acl
        # exactly one owner: prod's run-as service principal (listed once, as owner)
        owners = [a for a in acl if a["permission_level"] == "IS_OWNER"]
        assert owners == [
            {
                "service_principal_name": "0b7e8a3f-0000-4000-8000-0000000b0a7d",
                "permission_level": "IS_OWNER",
            }
        ]
        assert sum(a.get("service_principal_name") is not None for a in acl) == 1


def test_without_run_as_the_deploying_user_owns_the_jobs(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, _ = _deploy("dev", infra_dir, repo_root, client, built_release)
    for done in result.deployed:
        owners = [
            a for a in fake.state.permissions[done.job_id] if a["permission_level"] == "IS_OWNER"
        ]
        assert owners == [{"user_name": "fake-user@example.com", "permission_level": "IS_OWNER"}]


def test_the_fake_enforces_one_owner_like_the_permissions_api(
    fake: FakeWorkspace, client: WorkspaceClient
) -> None:
    from databricks.sdk.errors import InvalidParameterValue
    from databricks.sdk.service.jobs import JobAccessControlRequest, JobPermissionLevel

    job_id = fake.add_job({"name": "x"})
    viewers = [
        JobAccessControlRequest(group_name="users", permission_level=JobPermissionLevel.CAN_VIEW)
    ]
    with pytest.raises(InvalidParameterValue, match="exactly one owner"):
        client.jobs.set_permissions(str(job_id), access_control_list=viewers)


def test_deploy_creates_schemas_experiment_folders_and_experiments(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, _ = _deploy("staging", infra_dir, repo_root, client, built_release)
    assert fake.state.schemas == {"churn_staging.churn", "churn_staging.churn_integration"}
    assert set(fake.state.experiments) == {
        "/Shared/churn/staging",
        "/Shared/churn/staging-integration-test",
    }
    assert "/Shared/churn" in fake.state.workspace_dirs
    assert "create schema churn_staging.churn if absent (created)" in result.applied
    again, _ = _deploy("staging", infra_dir, repo_root, client, built_release)
    assert "create schema churn_staging.churn if absent (exists)" in again.applied
    assert "create experiment /Shared/churn/staging if absent (exists)" in again.applied


def test_the_fake_refuses_an_experiment_without_its_parent_folder(
    fake: FakeWorkspace, client: WorkspaceClient
) -> None:
    from databricks.sdk.errors import DatabricksError

    with pytest.raises(DatabricksError, match="Parent directory /Shared/churn does not exist"):
        client.experiments.create_experiment("/Shared/churn/prod")
    client.workspace.mkdirs("/Shared/churn")
    client.experiments.create_experiment("/Shared/churn/prod")
    # an experiment is no folder: the nested layout the staging file once had fails the same way
    with pytest.raises(DatabricksError, match="Parent directory /Shared/churn/prod does not"):
        client.experiments.create_experiment("/Shared/churn/prod/integration-test")


def test_wheels_are_uploaded_where_the_libraries_point(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, _ = _deploy("dev", infra_dir, repo_root, client, built_release)
    assert built_release.wheel_dir is not None
    libraries = {
        lib["whl"]
        for job in fake.state.jobs.values()
        for task in job["settings"]["tasks"]
        for lib in task["libraries"]
        if "whl" in lib  # feature-publish also installs a PyPI package
    }
    assert len(libraries) == 7
    data = vendored_source("/Volumes/churn_dev/churn/artifacts")
    assert set(fake.state.files) == libraries | {data}
    assert fake.state.files[data] == vendored_csv_path().read_bytes()
    for path in libraries:
        assert path.startswith("/Volumes/churn_dev/churn/artifacts/releases/")
        local = built_release.wheel_dir / path.rsplit("/", 1)[1]
        assert fake.state.files[path] == local.read_bytes()
    # uploads happen before any job points at them
    kinds = [r.path for r in fake.requests if r.mutating]
    last_upload = max(i for i, p in enumerate(kinds) if p.startswith("/api/2.0/fs/"))
    first_job = min(i for i, p in enumerate(kinds) if p.startswith("/api/2.2/jobs/"))
    assert last_upload < first_job
    uploaded = [a.removeprefix("upload ").split(" (")[0] for a in result.applied]
    assert sorted(a for a in uploaded if a.endswith(".whl")) == sorted(libraries)


def test_workspace_artifact_location_uses_workspace_import(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    fake_infra: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    path = fake_infra / "environments" / "dev.yaml"
    data = yaml.safe_load(path.read_text())
    data["databricks"]["artifact_location"] = "/Workspace/Shared/churn/dev/artifacts"
    path.write_text(yaml.safe_dump(data))
    _deploy("dev", fake_infra, repo_root, client, built_release)
    libraries = {
        lib["whl"]
        for job in fake.state.jobs.values()
        for t in job["settings"]["tasks"]
        for lib in t["libraries"]
        if "whl" in lib
    }
    # the Workspace API addresses /Workspace/Shared/... as /Shared/...
    data = vendored_source("/Workspace/Shared/churn/dev/artifacts").removeprefix("/Workspace")
    assert {p.removeprefix("/Workspace") for p in libraries} | {data} == set(
        fake.state.workspace_files
    )
    assert fake.state.files == {}


def test_no_token_or_secret_in_any_payload(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    _deploy("staging", infra_dir, repo_root, client, built_release)
    assert fake.requests
    for request in fake.requests:
        assert request.authorization in (None, f"Bearer {fake.token}")
        raw = request.body + json.dumps(request.query).encode() + request.path.encode()
        assert fake.token.encode() not in raw
        if request.path.startswith("/api/2.2/jobs/") and request.body:
            keys = _all_keys(request.json)
            assert not {k for k in keys if any(w in k.lower() for w in SECRET_WORDS)}, keys


SECRET_WORDS = ("token", "password", "secret", "credential")


def _all_keys(data: object) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in _all_keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in _all_keys(v)}
    if isinstance(data, str) and data.startswith("{"):
        try:
            return _all_keys(json.loads(data))
        except ValueError:
            return set()
    return set()


def test_dry_run_sends_no_mutating_request_and_shows_a_diff(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    fake_infra: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    _deploy("dev", fake_infra, repo_root, client, built_release)
    before = len(fake.requests)
    params = fake_infra / "params" / "model-train.yaml"
    params.write_text(params.read_text().replace("max_depth: 4", "max_depth: 8"))

    result, text = _deploy("dev", fake_infra, repo_root, client, built_release, dry_run=True)
    dry = fake.requests[before:]
    assert dry
    assert all(r.method == "GET" for r in dry), [(r.method, r.path) for r in dry if r.mutating]
    assert result.deployed == []
    assert {p.action for p in result.plans} == {"update"}
    assert any(ln.startswith("+") and '"max_depth": 8' in ln for ln in text.splitlines())
    changed = {p.name for p in result.plans if p.diff()}
    assert changed == {"DEV-churn-model-train", "DEV-churn-initial-model-train-register"}
    # and nothing changed in the fake
    deployed = json.dumps(list(fake.state.jobs.values()))
    assert 'max_depth\\":8' not in deployed
    assert 'max_depth\\":4' in deployed


def test_dry_run_on_an_empty_workspace_plans_creates(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, text = _deploy("prod", infra_dir, repo_root, client, built_release, dry_run=True)
    assert {p.action for p in result.plans} == {"create"}
    assert fake.mutating_requests() == []
    assert "PROD-churn-model-train" in text


def test_two_jobs_with_one_name_is_an_error_before_any_change(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    fake.add_job({"name": "DEV-churn-model-deployment"})
    fake.add_job({"name": "DEV-churn-model-deployment"})
    with pytest.raises(UserError, match="2 jobs are named 'DEV-churn-model-deployment'"):
        _deploy("dev", infra_dir, repo_root, client, built_release)
    assert fake.mutating_requests() == []


def test_local_deploy_records_definitions(tmp_path: Path, infra_dir: Path, repo_root: Path) -> None:
    console = Console(record=True, width=200)
    result = deploy(
        "local", infra_dir=infra_dir, repo_root=repo_root, home=tmp_path, console=console
    )
    recorded = sorted(p.name for p in (tmp_path / "deployments" / "local").glob("*.json"))
    assert recorded == sorted(f"{d.name}.json" for d in result.deployed)
    assert "LOCAL-churn-initial-model-train-register.json" in recorded
    again = deploy(
        "local",
        infra_dir=infra_dir,
        repo_root=repo_root,
        home=tmp_path,
        console=console,
        dry_run=True,
    )
    assert all(p.action == "update" and p.diff() == "" for p in again.plans)


# -- the CLI: one clear message, exit code 2, nothing sent ---------------------------------------


def test_cli_unknown_environment_exits_2(infra_dir: Path) -> None:
    result = CliRunner().invoke(app, ["deploy", "qa", "--infra-dir", str(infra_dir)])
    assert result.exit_code == 2
    assert "Unknown environment 'qa'" in result.output
    assert "Traceback" not in result.output


def test_cli_missing_auth_exits_2_and_sends_nothing_mutating(
    fake: FakeWorkspace, fake_infra: Path, repo_root: Path
) -> None:
    result = CliRunner().invoke(
        app, ["deploy", "staging", "--infra-dir", str(fake_infra), "--repo-root", str(repo_root)]
    )
    assert result.exit_code == 2, result.output
    assert "No usable Databricks credentials" in result.output
    assert "databricks auth login" in result.output
    assert fake.mutating_requests() == []


def test_cli_wrong_token_exits_2(
    fake: FakeWorkspace, fake_infra: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", "not-the-right-one")
    result = CliRunner().invoke(
        app,
        [
            "deploy",
            "dev",
            "--dry-run",
            "--infra-dir",
            str(fake_infra),
            "--repo-root",
            str(repo_root),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "authentication failed" in result.output
    assert fake.mutating_requests() == []
    assert fake.requests  # it did try


def _dirty_repo(tmp_path: Path, how: str) -> Path:
    """A one-member workspace (churn-jobs) with a tracked change or an untracked source file."""
    repo = tmp_path / "repo"
    member = repo / "services" / "churn-jobs"
    (member / "src" / "churn_jobs").mkdir(parents=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["services/*"]\n')
    (member / "pyproject.toml").write_text('[project]\nname = "churn-jobs"\nversion = "0.1.0"\n')
    (member / "src" / "churn_jobs" / "__init__.py").write_text("")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    if how == "tracked":
        (repo / "pyproject.toml").write_text("# changed\n" + (repo / "pyproject.toml").read_text())
    else:  # a new module nobody committed would ship inside the wheel
        (member / "src" / "churn_jobs" / "extra.py").write_text("X = 1\n")
    return repo


@pytest.mark.parametrize("how", ["tracked", "untracked"])
def test_cli_dirty_tree_for_prod_is_refused(
    tmp_path: Path,
    fake: FakeWorkspace,
    fake_infra: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    repo = _dirty_repo(tmp_path, how)
    result = CliRunner().invoke(
        app, ["deploy", "prod", "--infra-dir", str(fake_infra), "--repo-root", str(repo)]
    )
    assert result.exit_code == 2, result.output
    assert "uncommitted changes or untracked files" in result.output
    assert fake.requests == []  # refused before even authenticating
    assert load_environment("prod", fake_infra).databricks.require_clean_git  # type: ignore[union-attr]


def test_cli_dry_run_against_the_fake(
    fake: FakeWorkspace, fake_infra: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole CLI path, real wheel builds included; only GETs reach the workspace."""
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    result = CliRunner().invoke(
        app,
        [
            "deploy",
            "staging",
            "--dry-run",
            "--infra-dir",
            str(fake_infra),
            "--repo-root",
            str(repo_root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "STAGING-churn-integration-test" in result.output
    assert fake.requests
    assert fake.mutating_requests() == []


# -- the serving endpoint (databricks.serving) ---------------------------------------------------

DEV_MODEL = "churn_dev.churn.churn_model"


def _serving_requests(fake: FakeWorkspace) -> list[str]:
    return [r.path for r in fake.mutating_requests() if "serving-endpoints" in r.path]


def test_without_a_champion_the_endpoint_is_skipped_and_said_so(
    fake: FakeServingWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    result, text = _deploy("dev", infra_dir, repo_root, client, built_release, dry_run=True)
    assert result.endpoint is not None
    assert result.endpoint.action == "skip"
    assert "serving endpoint dev-churn-serving: skip: no champion" in text
    assert "model-deployment (or `churn promote`) creates it after the first promotion" in text
    result, _ = _deploy("dev", infra_dir, repo_root, client, built_release)
    assert fake.endpoints == {}
    assert _serving_requests(fake) == []


def test_dry_run_shows_the_endpoint_plan_and_deploy_carries_it_out(
    fake: FakeServingWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    fake.add_model_version(DEV_MODEL, 3, champion=True)
    _, text = _deploy("dev", infra_dir, repo_root, client, built_release, dry_run=True)
    assert "serving endpoint dev-churn-serving: create, serving version 3" in text
    assert "DEV-churn-model-deployment" in text  # beside the jobs' plan
    assert _serving_requests(fake) == []
    assert fake.endpoints == {}

    done, _ = _deploy("dev", infra_dir, repo_root, client, built_release)
    assert "serving endpoint dev-churn-serving: create, serving version 3 (created)" in done.applied
    assert fake.served_version("dev-churn-serving") == "3"
    entity = fake.endpoints["dev-churn-serving"]["config"]["served_entities"][0]
    assert (entity["workload_size"], entity["scale_to_zero_enabled"]) == ("Small", True)

    again, text = _deploy("dev", infra_dir, repo_root, client, built_release, dry_run=True)
    assert again.endpoint is not None
    assert again.endpoint.action == "unchanged"
    assert "serving endpoint dev-churn-serving: unchanged" in text

    fake.add_model_version(DEV_MODEL, 4, champion=True)  # a promotion the chain did not follow
    _, text = _deploy("dev", infra_dir, repo_root, client, built_release, dry_run=True)
    assert "serving endpoint dev-churn-serving: update version 3 -> 4" in text
    _deploy("dev", infra_dir, repo_root, client, built_release)
    assert fake.served_version("dev-churn-serving") == "4"
    assert len(fake.endpoints) == 1


def test_an_endpoint_failure_names_what_was_applied(
    fake: FakeServingWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    from churn_infra.errors import WorkspaceError

    fake.add_model_version(DEV_MODEL, 3, champion=True)
    fake.inject(Fault("POST", "/api/2.0/serving-endpoints", 403, "PERMISSION_DENIED"))
    with pytest.raises(WorkspaceError) as failed:
        _deploy("dev", infra_dir, repo_root, client, built_release)
    message = str(failed.value)
    assert "serving endpoint dev-churn-serving: create, serving version 3 failed" in message
    assert "create job DEV-churn-model-deployment" in message.split("not applied")[0]
    _deploy("dev", infra_dir, repo_root, client, built_release)  # the rerun completes it
    assert fake.served_version("dev-churn-serving") == "3"


def test_the_validation_job_is_triggered_by_new_model_versions(
    fake: FakeServingWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    _, text = _deploy("dev", infra_dir, repo_root, client, built_release, dry_run=True)
    assert '"condition": "MODEL_VERSION_READY"' in text  # the new job's diff shows its trigger
    _deploy("dev", infra_dir, repo_root, client, built_release)
    (validation,) = [
        j["settings"]
        for j in fake.state.jobs.values()
        if j["settings"]["name"] == "DEV-churn-model-validation"
    ]
    assert validation["trigger"] == {
        "model": {"condition": "MODEL_VERSION_READY", "securable_name": DEV_MODEL},
        "pause_status": "UNPAUSED",
    }


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ({"condition": "MODEL_VERSION_READY"}, "metastore admin"),
        ({"condition": "MODEL_VERSION_READY", "securable_name": "churn_model"}, "Unity Catalog"),
        (
            {"condition": "MODEL_VERSION_READY", "securable_name": DEV_MODEL, "aliases": ["c"]},
            "MODEL_ALIAS_SET",
        ),
        ({"condition": "MODEL_ALIAS_SET", "securable_name": DEV_MODEL}, "between 1 and 10"),
    ],
)
def test_the_fake_rejects_model_triggers_the_api_rejects(
    fake: FakeServingWorkspace, client: WorkspaceClient, model: dict, error: str
) -> None:
    from databricks.sdk.errors import DatabricksError
    from databricks.sdk.service.jobs import JobSettings

    settings = JobSettings.from_dict({"name": "x", "trigger": {"model": model}})
    with pytest.raises(DatabricksError, match=error):
        client.jobs.create(name=settings.name, trigger=settings.trigger)
    assert fake.state.jobs == {}


def test_an_unreadable_champion_stops_the_plan_before_any_change(
    fake: FakeServingWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    fake.inject(Fault("GET", "/aliases/champion", 403, "PERMISSION_DENIED", "no EXECUTE"))
    with pytest.raises(UserError, match="Planning the serving endpoint dev-churn-serving") as err:
        _deploy("dev", infra_dir, repo_root, client, built_release)
    assert "PermissionDenied: no EXECUTE" in str(err.value)
    assert "EXECUTE on churn_dev.churn.churn_model" in str(err.value)
    assert fake.mutating_requests() == []
