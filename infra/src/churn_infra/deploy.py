"""``deploy``: every job of an environment, upserted by name, in one straight line.

1. ``load_environment``: the file, its runtime settings, every task's params (validated);
2. ``predict_release`` + the clean-tree rule (``require_clean_git``, prod);
3. ``workspace_client``: auth checked with one read-only call;
4. ``build_release``: the shipped members' wheels (those built before from the same sources
   are reused, ``churn_infra.wheel_cache``);
5. ``build_jobs``: the definitions (pure);
6. ``plan_jobs``: find each job by name (read-only), diff; ``plan_endpoint``: the declared
   serving endpoint (``databricks.serving``) against the workspace and the model's champion;
   ``--dry-run`` stops here;
7. ``apply_changes``: upload; create the schemas, experiment folders and experiments if absent;
   create/reset each job and set its permissions (one owner); create/update the serving
   endpoint; each reported, a failure naming what was applied and what not.

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
from databricks.sdk.errors import NotFound
from databricks.sdk.service.jobs import JobSettings
from rich.console import Console
from rich.syntax import Syntax

from churn_infra.artifacts import planned_uploads, release_folder_step
from churn_infra.changes import Change, apply_changes
from churn_infra.environment import DatabricksTarget, Environment, find_infra_dir, load_environment
from churn_infra.errors import InfraError
from churn_infra.jobs import access_control_list, build_jobs
from churn_infra.release import GitState, Release, build_release, predict_release
from churn_infra.serving_endpoint import (
    EndpointPlan,
    apply_endpoint,
    champion_version,
    plan_endpoint,
)
from churn_infra.settings_diff import settings_diff
from churn_infra.wheel_cache import cache_dir
from churn_infra.workspace_client import workspace_client

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
    applied: list[str] = field(default_factory=list)
    endpoint: EndpointPlan | None = None
    """The serving endpoint's plan; None when the environment declares no endpoint."""


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
    infra_dir = (infra_dir or find_infra_dir()).resolve()
    repo_root = (repo_root or infra_dir.parent).resolve()
    env = load_environment(env_name, infra_dir)
    named = release or predict_release(repo_root)
    if env.databricks is None:
        return _deploy_local(env, dry_run, named, home, out)
    target = env.databricks
    check_clean_tree(env, named.git, dry_run, out, action="deploy")
    client = client or workspace_client(target.workspace)
    with tempfile.TemporaryDirectory(prefix="churn-wheels-") as scratch:
        if release is None:
            release = _build(repo_root, build_dir or Path(scratch), named, home, out)
        plans = plan_jobs(client, build_jobs(env, release))
        endpoint = plan_serving(client, env)
        result = DeployResult(env.name, dry_run, release.path, plans, endpoint=endpoint)
        _print_plan(out, env, release, target, plans, dry_run)
        if endpoint is not None:
            out.print(f"  {endpoint.describe()}", highlight=False)
        if dry_run:
            return result
        # First mutating request from here on: every check above has passed.
        deployed: list[DeployedJob] = []
        changes = (
            _release_changes(client, release, target)
            + _setup_changes(client, env)
            + _job_changes(client, plans, target, deployed)
            + _endpoint_changes(client, env, endpoint)
        )
        log = apply_changes(
            changes, what=f"Deploying {env.name}", rerun=f"churn-infra deploy {env.name}", out=out
        )
        result.applied, result.deployed = log.applied, deployed
    for done in result.deployed:
        out.print(f"  {done.action:>6}  {done.name}  {done.url}")
    return result


def check_clean_tree(
    env: Environment, git: GitState, dry_run: bool, out: Console, *, action: str
) -> None:
    """``require_clean_git`` (prod): refuse to ship uncommitted or untracked member files."""
    if env.databricks is None or not (env.databricks.require_clean_git and git.dirty):
        return
    problem = f"the git tree has uncommitted changes or untracked files (HEAD {git.short})"
    if dry_run:
        out.print(f"[yellow]warning:[/yellow] {problem}: a real {action} to {env.name} is refused.")
        return
    raise InfraError(
        f"Refusing to {action} {env.name}: {problem}.",
        "commit, stash or remove them (`git status`), then try again (jobs are tagged with the "
        "commit)",
    )


def plan_jobs(client: WorkspaceClient, settings: list[JobSettings]) -> list[JobPlan]:
    """Find each job by exact name (read-only); two existing jobs with one name is an error."""
    plans = []
    for job in settings:
        name = job.name or ""
        found = [j for j in client.jobs.list(name=name) if j.settings and j.settings.name == name]
        if len(found) > 1:
            ids = ", ".join(str(j.job_id) for j in found)
            raise InfraError(
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


def _release_changes(
    client: WorkspaceClient, release: Release, target: DatabricksTarget
) -> list[Change]:
    folder = release.remote_dir(target.artifact_location)
    changes = [Change(f"create {folder}", release_folder_step(client, folder))]
    for upload in planned_uploads(release, target.artifact_location):
        changes.append(
            Change(f"upload {upload.remote}", lambda u=upload: u.apply(client))  # type: ignore[misc]
        )
    return changes


def _setup_changes(client: WorkspaceClient, env: Environment) -> list[Change]:
    """What the jobs need but must not create themselves: their schemas (CREATE SCHEMA on the
    catalog is the deployer's grant, not the job principal's) and their MLflow experiments,
    whose parent folder MLflow does not create ("Parent directory ... does not exist")."""
    changes = []
    for full_name in env.schemas:
        if "." in full_name:
            catalog, schema = full_name.split(".", 1)
            changes.append(
                Change(
                    f"create schema {full_name} if absent",
                    lambda c=catalog, s=schema: _ensure_schema(client, c, s),  # type: ignore[misc]
                )
            )
    folders = sorted({e.rsplit("/", 1)[0] for e in env.experiments if e.count("/") > 1})
    for folder in folders:
        changes.append(
            Change(
                f"create folder {folder}",
                lambda f=folder: client.workspace.mkdirs(f),  # type: ignore[misc]
            )
        )
    for experiment in env.experiments:
        changes.append(
            Change(
                f"create experiment {experiment} if absent",
                lambda e=experiment: _ensure_experiment(client, e),  # type: ignore[misc]
            )
        )
    return changes


def _ensure_schema(client: WorkspaceClient, catalog: str, schema: str) -> str:
    try:
        client.schemas.get(f"{catalog}.{schema}")
        return "exists"
    except NotFound:
        client.schemas.create(name=schema, catalog_name=catalog)
        return "created"


def _ensure_experiment(client: WorkspaceClient, name: str) -> str:
    try:
        client.experiments.get_by_name(name)
        return "exists"
    except NotFound:
        client.experiments.create_experiment(name)
        return "created"


def _job_changes(
    client: WorkspaceClient,
    plans: list[JobPlan],
    target: DatabricksTarget,
    deployed: list[DeployedJob],
) -> list[Change]:
    """Create or reset each job, then set its permissions (one owner, see access_control_list)."""
    host = (client.config.host or "").rstrip("/")
    deployer = "" if target.stated_owner else (client.current_user.me().user_name or "")
    acl = access_control_list(target, deployer)
    ids: dict[str, int] = {}

    def upsert(plan: JobPlan) -> str:
        if plan.job_id is None:
            job_id = client.jobs.create(**_create_kwargs(plan.settings)).job_id
            assert job_id is not None
        else:
            job_id = plan.job_id
            client.jobs.reset(job_id, plan.settings)
        ids[plan.name] = job_id
        deployed.append(DeployedJob(plan.name, job_id, plan.action, f"{host}/jobs/{job_id}"))
        return f"job {job_id}"

    changes = []
    for plan in plans:
        changes.append(Change(f"{plan.action} job {plan.name}", lambda p=plan: upsert(p)))  # type: ignore[misc]
        changes.append(
            Change(
                f"set the permissions of {plan.name}",
                lambda p=plan: client.jobs.set_permissions(  # type: ignore[misc]
                    str(ids[p.name]), access_control_list=acl
                ),
            )
        )
    return changes


def plan_serving(client: WorkspaceClient, env: Environment) -> EndpointPlan | None:
    """Read-only: the declared serving endpoint against the workspace and the champion."""
    from databricks.sdk.errors import DatabricksError

    if env.serving is None:
        return None
    model = env.runtime.registered_model_name
    try:
        champion = champion_version(client, model)
        return plan_endpoint(client, env.serving, env.runtime, champion)
    except DatabricksError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InfraError(
            f"Planning the serving endpoint {env.serving.name} failed: reading the champion of "
            f"{model} or the endpoint answered {type(exc).__name__}: {first}",
            f"grant the deploying principal EXECUTE on {model} and CAN_MANAGE on the endpoint "
            "(or permission to create endpoints), or remove databricks.serving; nothing was "
            "changed",
        ) from None


def _endpoint_changes(
    client: WorkspaceClient, env: Environment, plan: EndpointPlan | None
) -> list[Change]:
    if plan is None or env.serving is None or plan.action in ("skip", "unchanged"):
        return []
    endpoint = env.serving
    return [
        Change(
            plan.describe(),
            lambda: apply_endpoint(client, plan, endpoint, env.runtime),
        )
    ]


def _create_kwargs(settings: JobSettings) -> dict:
    """``jobs.create`` takes the settings' fields as keyword arguments."""
    return {key: getattr(settings, key) for key in settings.as_dict()}


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


def _build(
    repo_root: Path, out_dir: Path, named: Release, home: Path | None, out: Console
) -> Release:
    """The release's wheels: those built before from the same sources, else built now."""
    out.print(f"Building the wheels of {', '.join(m.name for m in named.members)} ...")
    release = build_release(repo_root, out_dir, named.git, cache=cache_dir(home))
    if release.reused_wheels:
        out.print("  reused: built before from the same sources (the same bytes as then)")
    return release


def _deploy_local(
    env: Environment, dry_run: bool, release: Release, home: Path | None, out: Console
) -> DeployResult:
    """Validate the definitions and record them as the local runner's "deployed" jobs."""
    from churn_jobs.local_platform import churn_home

    folder = churn_home(home) / "deployments" / env.name
    plans = []
    for job in build_jobs(env, release):
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
