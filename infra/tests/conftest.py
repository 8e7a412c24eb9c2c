"""Shared fixtures: the repository, wheels built once per session, and the FAKE workspace."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from databricks.sdk import WorkspaceClient
from fake_serving import FakeServingWorkspace
from fake_workspace import FakeWorkspace

from churn_infra.release import Release, build_release, git_state
from churn_infra.wheel_cache import cache_dir

INFRA_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = INFRA_DIR.parent


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    return INFRA_DIR


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session", autouse=True)
def churn_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's own CHURN_HOME: what deploys keep there (their wheel cache) never lands in
    a developer's ``.churn``, and nothing of theirs is read."""
    home = tmp_path_factory.mktemp("churn-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHURN_HOME", str(home))
        yield home


@pytest.fixture(scope="session")
def built_release(tmp_path_factory: pytest.TempPathFactory, churn_home: Path) -> Release:
    """The members' wheels, built once (``uv build``) for every deploy test: kept in the
    session's wheel cache, where the CLI's deploys find them too."""
    return build_release(
        REPO_ROOT,
        tmp_path_factory.mktemp("wheels"),
        git_state(REPO_ROOT),
        cache=cache_dir(churn_home),
    )


@pytest.fixture(autouse=True)
def no_ambient_databricks_auth(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test may pick up a real ~/.databrickscfg or DATABRICKS_* variable of the machine."""
    import os

    for name in list(os.environ):
        if name.startswith(("DATABRICKS_", "ARM_", "AZURE_")):
            monkeypatch.delenv(name)
    missing = tmp_path_factory.getbasetemp() / "no-databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(missing))


@pytest.fixture
def fake() -> Iterator[FakeServingWorkspace]:
    """The whole fake: jobs, files, permissions, Unity Catalog models and serving endpoints."""
    with FakeServingWorkspace() as workspace:
        yield workspace


@pytest.fixture
def client(fake: FakeWorkspace) -> WorkspaceClient:
    """The real databricks-sdk client, talking to the fake over HTTP."""
    return WorkspaceClient(host=fake.host, token=fake.token)


@pytest.fixture
def fake_infra(tmp_path: Path, fake: FakeWorkspace) -> Path:
    """A copy of infra/ whose Databricks environments point at the fake workspace's host."""
    target = tmp_path / "infra"
    shutil.copytree(INFRA_DIR / "environments", target / "environments")
    shutil.copytree(INFRA_DIR / "params", target / "params")
    for path in (target / "environments").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data.get("databricks"):
            data["databricks"]["workspace"] = {"host": fake.host}
            path.write_text(yaml.safe_dump(data))
    return target
