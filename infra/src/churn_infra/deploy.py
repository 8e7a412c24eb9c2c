"""``deploy``: build the wheels, upload them, upsert every job of an environment by name.

Every check (environment, git state, auth, wheel builds, existing jobs) runs before the first
mutating request, so a failure leaves the workspace untouched. ``dry_run`` stops after the plan.
For the local environment, deploy validates the definitions and records them under
``$CHURN_HOME/deployments/local/`` instead of uploading anything.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.jobs import JobSettings
from rich.console import Console
from rich.syntax import Syntax

from churn_infra.artifacts import upload_release
from churn_infra.environment import DatabricksTarget, Environment, load_environment, resolve_paths
from churn_infra.jobs import access_control_list, build_jobs
from churn_infra.release import GitState, Release, build_release, git_state, predict_release
from churn_infra.settings_diff import settings_diff
from churn_infra.workspace_client import workspace_client
from churn_jobs.errors import UserError

Action = Literal["create", "update"]


@dataclass(frozen=True)
class JobPlan:
    settings: JobSettings
    job_id: int | None
    deployed: dict | None
    """The deployed settings (as the API returned them), None when the job does not exist yet."""

    @property
    def name(self) -> str:
        return self.settings.name or ""

    @property
    def action(self) -> Action:
        return "create" if self.job_id is None else "update"

    def diff(self) -> str:
        return settings_diff(self.name, self.deployed, self.settings.as_dict())


@dataclass(frozen=True)
class DeployedJob:
    name: str
    job_id: int | None
    action: Action
    url: str


@dataclass
class DeployResult:
    environment: str
    dry_run: bool
    release_path: str
    plans: list[JobPlan]
    deployed: list[DeployedJob] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)


def deploy(
    env_name: str,
    *,
    dry_run: bool = False,
    infra_dir: Path | None = None,
    repo_root: Path | None = None,
    home: Path | None = None,
    client: WorkspaceClient | None = None,
    release: Release | None = None,
    build_dir: Path | None = None,
    console: Console | None = None,
) -> DeployResult:
    """Deploy every job of ``env_name``; ``client`` and ``release`` may be injected (tests).

    ``home`` is CHURN_HOME, used only by the local environment to record the definitions.
    """
    out = console or Console()
    infra_dir, repo_root = resolve_paths(infra_dir, repo_root)
    env = load_environment(env_name, infra_dir)
    git = release.git if release else git_state(repo_root)
    if env.databricks is None:
        return _deploy_local(env, dry_run, infra_dir, repo_root, git, home, out)
    target = env.databricks
    _check_git(env, target, git, dry_run, out)
    client = client or workspace_client(target.workspace)
    with tempfile.TemporaryDirectory(prefix="churn-wheels-") as scratch:
        if release is None:
            out.print("Building the wheels of every workspace member ...")
            release = build_release(repo_root, build_dir or Path(scratch), git)
        settings = build_jobs(env, release, infra_dir)
        plans = plan_jobs(client, settings)
        result = DeployResult(env.name, dry_run, release.path, plans)
        _print_plan(out, env, release, target, plans, dry_run)
        if dry_run:
            return result
        # First mutating request from here on: every check above has passed.
        result.uploaded = upload_release(client, release, target.artifact_location)
        folder = release.remote_dir(target.artifact_location)
        out.print(f"Uploaded {len(result.uploaded)} wheels to {folder}")
        result.deployed = apply_plans(client, plans, target)
    for done in result.deployed:
        out.print(f"  {done.action:>6}  {done.name}  {done.url}")
    return result


def plan_jobs(client: WorkspaceClient, settings: list[JobSettings]) -> list[JobPlan]:
    """Find each job by exact name (read-only); two existing jobs with one name is an error."""
    plans = []
    for job in settings:
        name = job.name or ""
        found = [j for j in client.jobs.list(name=name) if j.settings and j.settings.name == name]
        if len(found) > 1:
            ids = ", ".join(str(j.job_id) for j in found)
            raise UserError(
                f"{len(found)} jobs are named {name!r} (ids {ids}); "
                "deploy cannot tell which one to update.",
                "delete the extra ones in the workspace, then deploy again",
            )
        if found:
            job_id = found[0].job_id
            assert job_id is not None
            existing = client.jobs.get(job_id)
            deployed = existing.settings.as_dict() if existing.settings else {}
            plans.append(JobPlan(job, job_id, deployed))
        else:
            plans.append(JobPlan(job, None, None))
    return plans


def apply_plans(
    client: WorkspaceClient, plans: list[JobPlan], target: DatabricksTarget
) -> list[DeployedJob]:
    """Create or reset each job, then set its permissions."""
    acl = access_control_list(target)
    host = (client.config.host or "").rstrip("/")
    deployed = []
    for plan in plans:
        if plan.job_id is None:
            job_id = client.jobs.create(**_create_kwargs(plan.settings)).job_id
            assert job_id is not None
        else:
            job_id = plan.job_id
            client.jobs.reset(job_id, plan.settings)
        if acl:
            client.jobs.set_permissions(str(job_id), access_control_list=acl)
        deployed.append(DeployedJob(plan.name, job_id, plan.action, f"{host}/jobs/{job_id}"))
    return deployed


def _create_kwargs(settings: JobSettings) -> dict:
    """``jobs.create`` takes the settings' fields as keyword arguments."""
    return {key: getattr(settings, key) for key in settings.as_dict()}


def _check_git(
    env: Environment, target: DatabricksTarget, git: GitState, dry_run: bool, out: Console
) -> None:
    if not (target.require_clean_git and git.dirty):
        return
    problem = f"the git tree has uncommitted changes (HEAD {git.short})"
    if dry_run:
        out.print(f"[yellow]warning:[/yellow] {problem}: a real deploy to {env.name} is refused.")
        return
    raise UserError(
        f"Refusing to deploy {env.name}: {problem}.",
        "commit or stash them, then deploy again (jobs are tagged with the commit)",
    )


def _print_plan(
    out: Console,
    env: Environment,
    release: Release,
    target: DatabricksTarget | None,
    plans: list[JobPlan],
    dry_run: bool,
) -> None:
    where = target.workspace.describe() if target else "this machine (local runner)"
    title = "Plan (dry run, nothing is changed)" if dry_run else "Plan"
    out.print(f"[bold]{title}[/bold]: environment {env.name} → {where}, release {release.path}")
    if target:
        folder = release.remote_dir(target.artifact_location)
        out.print(f"  upload {len(release.wheel_files)} wheels to {folder}")
    for plan in plans:
        diff = plan.diff()
        status = plan.action if diff else f"{plan.action} (no changes)"
        out.print(f"  [bold]{status:>18}[/bold]  {plan.name}")
        if diff and dry_run:
            out.print(Syntax(diff, "diff", theme="ansi_dark", word_wrap=True))


def _deploy_local(
    env: Environment,
    dry_run: bool,
    infra_dir: Path,
    repo_root: Path,
    git: GitState,
    home: Path | None,
    out: Console,
) -> DeployResult:
    """Validate the definitions and record them as the local runner's "deployed" jobs."""
    from churn_jobs.local_platform import churn_home

    release = predict_release(repo_root, git)
    folder = churn_home(home) / "deployments" / env.name
    settings = build_jobs(env, release, infra_dir)
    plans = []
    for job in settings:
        path = folder / f"{job.name}.json"
        recorded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
        plans.append(JobPlan(job, 0 if recorded is not None else None, recorded))
    result = DeployResult(env.name, dry_run, release.path, plans)
    _print_plan(out, env, release, None, plans, dry_run)
    if dry_run:
        return result
    folder.mkdir(parents=True, exist_ok=True)
    for plan in plans:
        path = folder / f"{plan.name}.json"
        path.write_text(json.dumps(plan.settings.as_dict(), indent=2, sort_keys=True) + "\n")
        result.deployed.append(DeployedJob(plan.name, None, plan.action, path.as_uri()))
    for done in result.deployed:
        out.print(f"  {done.action:>6}  {done.name}  {done.url}")
    return result
