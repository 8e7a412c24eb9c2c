"""Upload a release's wheels to an artifact location: a UC volume or a workspace folder.

A path, once written, is never overwritten with different bytes: a wheel already there with the
same content is skipped (so a rerun after a failure completes the set), one with different
content is an error. Release paths carry a content hash, so that only happens when someone
wrote there by hand.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.workspace import ExportFormat, ImportFormat

from churn_features.dataset import vendored_csv_path
from churn_infra.errors import InfraError
from churn_infra.release import Release

WORKSPACE_PREFIX = "/Workspace"


@dataclass(frozen=True)
class Upload:
    """One wheel to put at ``remote``: run it with ``apply(client)``."""

    local_name: str
    remote: str
    content: bytes

    def apply(self, client: WorkspaceClient) -> str:
        """Upload unless the same bytes are there; returns "uploaded" or "already there"."""
        existing = _read_remote(client, self.remote)
        if existing is not None:
            if _sha(existing) == _sha(self.content):
                return "already there"
            raise InfraError(
                f"{self.remote} already holds a different {self.local_name} "
                f"(sha256 {_sha(existing)[:12]}, this build {_sha(self.content)[:12]}); "
                "a deployed path is never overwritten.",
                "find out who wrote it; release paths are content-addressed, so rebuild from "
                "a clean checkout, or delete that file by hand if it is garbage",
            )
        if self.remote.startswith("/Volumes/"):
            client.files.upload(self.remote, io.BytesIO(self.content), overwrite=False)
        else:
            client.workspace.import_(
                _workspace_api_path(self.remote),
                content=base64.b64encode(self.content).decode("ascii"),
                format=ImportFormat.AUTO,
                overwrite=False,
            )
        return "uploaded"


def release_folder_step(client: WorkspaceClient, folder: str) -> Callable[[], object]:
    """Create the release folder (idempotent on both APIs)."""
    if folder.startswith("/Volumes/"):
        return lambda: client.files.create_directory(folder)
    return lambda: client.workspace.mkdirs(_workspace_api_path(folder))


def planned_uploads(release: Release, artifact_location: str) -> list[Upload]:
    """The release's wheels, then the vendored raw data file (see ``vendored_source``)."""
    if release.wheel_dir is None:
        raise InfraError("This release was not built, so there is nothing to upload.")
    wheels = [
        Upload(name, remote, (release.wheel_dir / name).read_bytes())
        for name, remote in zip(
            release.wheel_files, release.remote_wheels(artifact_location), strict=True
        )
    ]
    local = vendored_csv_path()
    return [*wheels, Upload(local.name, vendored_source(artifact_location), _vendored_bytes())]


def vendored_source(artifact_location: str) -> str:
    """Where clusters read ``source: vendored``: the file churn-features ships, staged by deploy
    under ``<artifact_location>/data/<sha256 prefix>/``. Inside a wheel on a cluster it is a local
    site-packages path, which Spark would resolve against DBFS (no scheme) and not find."""
    content = _vendored_bytes()
    folder = f"{artifact_location.rstrip('/')}/data/{_sha(content)[:12]}"
    return f"{folder}/{vendored_csv_path().name}"


@cache
def _vendored_bytes() -> bytes:
    return vendored_csv_path().read_bytes()


def _read_remote(client: WorkspaceClient, path: str) -> bytes | None:
    try:
        if path.startswith("/Volumes/"):
            response = client.files.download(path)
            return response.contents.read() if response.contents else b""
        exported = client.workspace.export(_workspace_api_path(path), format=ExportFormat.AUTO)
        return base64.b64decode(exported.content or "")
    except NotFound:
        return None


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _workspace_api_path(path: str) -> str:
    return path.removeprefix(WORKSPACE_PREFIX) if path.startswith(WORKSPACE_PREFIX + "/") else path
