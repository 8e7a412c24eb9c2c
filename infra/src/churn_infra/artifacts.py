"""Upload a release's wheels to an artifact location: a UC volume or a workspace folder."""

from __future__ import annotations

import base64

from databricks.sdk import WorkspaceClient
from databricks.sdk.service.workspace import ImportFormat

from churn_infra.release import Release
from churn_jobs.errors import UserError

WORKSPACE_PREFIX = "/Workspace"


def upload_release(client: WorkspaceClient, release: Release, artifact_location: str) -> list[str]:
    """Upload every wheel under the release's versioned folder; returns the remote paths.

    Volumes go through the Files API; workspace paths through Workspace import (whose API
    paths have no ``/Workspace`` prefix). Re-uploading the same release overwrites it.
    """
    if release.wheel_dir is None:
        raise UserError("This release was not built, so there is nothing to upload.")
    folder = release.remote_dir(artifact_location)
    volume = folder.startswith("/Volumes/")
    if volume:
        client.files.create_directory(folder)
    else:
        client.workspace.mkdirs(_workspace_api_path(folder))
    uploaded = []
    for name, remote in zip(
        release.wheel_files, release.remote_wheels(artifact_location), strict=True
    ):
        local = release.wheel_dir / name
        if volume:
            with local.open("rb") as handle:
                client.files.upload(remote, handle, overwrite=True)
        else:
            client.workspace.import_(
                _workspace_api_path(remote),
                content=base64.b64encode(local.read_bytes()).decode("ascii"),
                format=ImportFormat.AUTO,
                overwrite=True,
            )
        uploaded.append(remote)
    return uploaded


def _workspace_api_path(path: str) -> str:
    return path.removeprefix(WORKSPACE_PREFIX) if path.startswith(WORKSPACE_PREFIX + "/") else path
