from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from churn_jobs.settings import RuntimeSettings

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def infra_dir() -> Path:
    """The repository's environments and params (read through churn-infra's loader)."""
    return REPO / "infra"


@pytest.fixture
def runtime() -> RuntimeSettings:
    return RuntimeSettings(
        environment="test", schema="churn_test", experiment="t", registered_model_name="m"
    )


def run_cli(*args: str, home: Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """A console script of this package, as a user runs it (own process, exit code, stderr)."""
    env = {**os.environ, "CHURN_HOME": str(home)}
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
        check=False,
    )
