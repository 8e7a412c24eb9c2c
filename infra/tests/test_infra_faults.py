"""Workspace errors part-way through deploy/launch (injected by the FAKE workspace): one message
saying what was applied and what not, exit code 1, and a rerun completes the set. Plus the
release rules: content-hashed paths, never overwriting a deployed wheel, clean trees for prod."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from fake_workspace import FakeWorkspace, Fault
from rich.console import Console
from typer.testing import CliRunner

from churn_infra.cli import app
from churn_infra.deploy import deploy
from churn_infra.environment import load_environment
from churn_infra.errors import InfraError, WorkspaceError
from churn_infra.jobs import job_names
from churn_infra.launch import launch
from churn_infra.release import GitState, Release, content_hash, git_state, shipped_members

QUIET = Console(quiet=True)


def _deploy(env: str, infra: Path, repo: Path, client: WorkspaceClient, release: Release):
    return deploy(
        env, infra_dir=infra, repo_root=repo, client=client, release=release, console=QUIET
    )


def _clean(release: Release) -> Release:
    return dataclasses.replace(release, git=GitState(release.git.commit, dirty=False))


def test_a_403_on_permissions_names_what_was_applied_and_a_rerun_completes(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    fake.inject(
        Fault(
            "PUT",
            "/api/2.0/permissions/jobs/",
            403,
            "PERMISSION_DENIED",
            "User fake-user@example.com does not have Manage permissions on Job",
        )
    )
    with pytest.raises(WorkspaceError) as caught:
        _deploy("staging", infra_dir, repo_root, client, built_release)
    message = str(caught.value)
    assert caught.value.exit_code == 1
    assert "Deploying staging stopped part-way" in message
    assert "PermissionDenied" in message
    wheels = len(built_release.wheel_files)
    jobs = len(job_names(load_environment("staging", infra_dir)))
    # the folder, the wheels and the data file, two schemas, the experiments' folder, two
    # experiments, one job
    assert f"applied ({1 + wheels + 1 + 2 + 1 + 2 + 1}):" in message
    # its permissions, the other jobs and theirs
    assert f"not applied ({1 + 2 * (jobs - 1)}):" in message
    assert "- set the permissions of STAGING-churn-feature-table-refresh" in message
    assert "grant the deploying principal" in message
    assert "rerun `churn-infra deploy staging`" in message
    assert len(fake.state.jobs) == 1

    again = _deploy("staging", infra_dir, repo_root, client, built_release)
    assert len(fake.state.jobs) == jobs  # no duplicate of the first job
    assert set(fake.state.permissions) == set(fake.state.jobs)
    assert sum("already there" in a for a in again.applied) == wheels + 1  # same bytes
    assert {d.action for d in again.deployed} == {"create", "update"}


def test_a_5xx_on_an_upload_stops_before_any_job_changes(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    fake.inject(Fault("PUT", "/api/2.0/fs/files/", 500, "INTERNAL_ERROR", "backend hiccup"))
    with pytest.raises(WorkspaceError, match=r"(?s)upload .*failed \(InternalError: backend"):
        _deploy("dev", infra_dir, repo_root, client, built_release)
    assert fake.state.jobs == {}
    _deploy("dev", infra_dir, repo_root, client, built_release)
    assert len(fake.state.files) == len(built_release.wheel_files) + 1  # and the data file
    assert len(fake.state.jobs) == len(job_names(load_environment("dev", infra_dir)))


def test_cli_prints_one_message_and_exits_1(
    fake: FakeWorkspace, fake_infra: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABRICKS_TOKEN", fake.token)
    fake.inject(Fault("POST", "/api/2.2/jobs/create", 500, "INTERNAL_ERROR", "try later"))
    args = ["deploy", "dev", "--infra-dir", str(fake_infra), "--repo-root", str(repo_root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "create job DEV-churn-feature-table-refresh failed" in result.output
    rerun = CliRunner().invoke(app, args)
    assert rerun.exit_code == 0, rerun.output
    assert "reused: built before from the same sources" in rerun.output, "not built twice"
    assert len(fake.state.jobs) == len(job_names(load_environment("dev", fake_infra)))


def test_a_wheel_path_is_never_overwritten_with_different_bytes(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    first, *_ = built_release.remote_wheels("/Volumes/churn_dev/churn/artifacts")
    fake.state.files[first] = b"somebody else's wheel"
    with pytest.raises(InfraError, match="never overwritten"):
        _deploy("dev", infra_dir, repo_root, client, built_release)
    assert fake.state.files[first] == b"somebody else's wheel"
    assert fake.state.jobs == {}


def test_launch_run_now_error_is_one_message(
    fake: FakeWorkspace,
    client: WorkspaceClient,
    infra_dir: Path,
    repo_root: Path,
    built_release: Release,
) -> None:
    _deploy("dev", infra_dir, repo_root, client, built_release)
    fake.inject(
        Fault("POST", "/api/2.2/jobs/run-now", 403, "PERMISSION_DENIED", "no CAN_MANAGE_RUN")
    )
    with pytest.raises(WorkspaceError, match="Launching DEV-churn-model-train failed") as caught:
        launch(
            "model-train",
            "dev",
            infra_dir=infra_dir,
            repo_root=repo_root,
            client=client,
            release=built_release,
            console=QUIET,
            sleep=lambda _: None,
        )
    assert "rerun `churn-infra launch model-train dev`" in str(caught.value)


def test_launch_submit_to_prod_refuses_a_dirty_tree(
    fake: FakeWorkspace, client: WorkspaceClient, infra_dir: Path, repo_root: Path
) -> None:
    dirty = dataclasses.replace(
        _clean(Release(shipped_members(repo_root), git_state(repo_root), "0" * 10)),
        git=GitState("a" * 40, dirty=True),
    )
    with pytest.raises(InfraError, match="Refusing to submit a run to prod"):
        launch(
            "model-train",
            "prod",
            submit=True,
            infra_dir=infra_dir,
            repo_root=repo_root,
            client=client,
            release=dirty,
            console=QUIET,
        )
    assert fake.mutating_requests() == []


def test_bundle_write_errors_are_one_message(tmp_path: Path, infra_dir: Path, repo_root: Path):
    blocker = tmp_path / "bundle"
    blocker.write_text("a file where the folder should go")
    args = ["bundle", "prod", "--out", str(blocker), "--infra-dir", str(infra_dir)]
    result = CliRunner().invoke(app, [*args, "--repo-root", str(repo_root)])
    assert result.exit_code == 2, result.output
    assert "Writing the bundle to" in result.output
    assert "Traceback" not in result.output


def test_a_bad_params_file_fails_the_dry_run(fake_infra: Path, repo_root: Path) -> None:
    params = fake_infra / "params" / "model-deployment.yaml"
    params.write_text(params.read_text().replace("metric: roc_auc", "metric: accuracy_at_k"))
    args = ["deploy", "prod", "--dry-run", "--infra-dir", str(fake_infra)]
    result = CliRunner().invoke(app, [*args, "--repo-root", str(repo_root)])
    assert result.exit_code == 2, result.output
    assert "model-deployment.yaml is invalid" in result.output


# -- the release path carries a content hash ---------------------------------------------------


def _one_member_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    member = repo / "services" / "churn-jobs"
    (member / "src" / "churn_jobs").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["services/*"]\n')
    (member / "pyproject.toml").write_text('[project]\nname = "churn-jobs"\nversion = "0.1.0"\n')
    (member / "src" / "churn_jobs" / "__init__.py").write_text("")
    (repo / ".gitignore").write_text("dist/\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=repo, check=True)
    return repo


def test_content_hash_follows_the_shipped_sources(tmp_path: Path) -> None:
    repo = _one_member_repo(tmp_path)
    members = shipped_members(repo)
    clean = content_hash(repo, members)
    assert not git_state(repo, members).dirty
    module = repo / "services" / "churn-jobs" / "src" / "churn_jobs" / "__init__.py"
    module.write_text("X = 1\n")
    edited = content_hash(repo, members)
    assert edited != clean
    (module.parent / "new.py").write_text("")
    assert content_hash(repo, members) != edited
    assert git_state(repo, members).dirty
    (module.parent / "new.py").unlink()
    module.write_text("")
    assert content_hash(repo, members) == clean  # same sources, same path
    (repo / "services" / "churn-jobs" / "dist").mkdir()
    (repo / "services" / "churn-jobs" / "dist" / "x.whl").write_text("ignored")
    assert content_hash(repo, members) == clean
