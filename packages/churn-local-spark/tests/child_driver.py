"""A driver program run in a child Python, for what only a fresh JVM shows (its flags, its class
cache): the tests' in-process session was started once, with the module's environment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def run_driver(
    script: str, *args: str, env: Mapping[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c script *args``, which must exit 0 (else its stderr's end is the failure)."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
