"""A databricks-sdk client for an environment's workspace, with auth checked up front.

Credentials come only from databricks-sdk unified auth (a ~/.databrickscfg profile, DATABRICKS_*
variables, OAuth, Azure CLI, ...): nothing secret is read from or written to our files.
"""

from __future__ import annotations

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError

from churn_infra.environment import Workspace
from churn_infra.errors import InfraError


def workspace_client(workspace: Workspace) -> WorkspaceClient:
    """Build the client and prove it can authenticate (GET current user), or raise UserError."""
    fix = (
        f"authenticate with `databricks auth login {_login_args(workspace)}`, "
        "or set DATABRICKS_HOST and DATABRICKS_TOKEN (never in a file of this repository)"
    )
    try:
        client = WorkspaceClient(profile=workspace.profile, host=workspace.host)
    except ValueError as exc:
        raise InfraError(
            f"No usable Databricks credentials for {workspace.describe()}: {_first_line(exc)}",
            fix,
        ) from None
    check_auth(client, workspace.describe(), fix)
    return client


def check_auth(client: WorkspaceClient, where: str, fix: str | None = None) -> None:
    try:
        client.current_user.me()
    except (DatabricksError, ValueError) as exc:
        raise InfraError(
            f"Databricks authentication failed for {where}: {_first_line(exc)}",
            fix or "check your databricks-sdk credentials",
        ) from None


def _login_args(workspace: Workspace) -> str:
    parts = []
    if workspace.profile:
        parts.append(f"--profile {workspace.profile}")
    if workspace.host:
        parts.append(f"--host {workspace.host}")
    return " ".join(parts)


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
