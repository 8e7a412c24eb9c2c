"""Cross-package tests. One CHURN_HOME for the whole session: a process holds one SparkSession,
whose warehouse and metastore are fixed when it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def churn_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("churn-home")
    previous = os.environ.get("CHURN_HOME")
    os.environ["CHURN_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("CHURN_HOME", None)
    else:
        os.environ["CHURN_HOME"] = previous


@pytest.fixture(scope="session")
def infra_dir() -> Path:
    return REPO / "infra"
