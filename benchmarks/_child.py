"""Benchmarks whose arms each run in a fresh process (a JVM of their own): the script starts
itself with ``--child ARM`` and reads back the one ``RESULT`` line the child prints."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import Any

RESULT = "RESULT "


def add_child_argument(parser: argparse.ArgumentParser, arms: Iterable[str]) -> None:
    """The hidden ``--child ARM`` a parent passes to the process that runs one arm."""
    parser.add_argument("--child", choices=sorted(arms), help=argparse.SUPPRESS)


def report(result: Mapping[str, Any]) -> None:
    """In the child: hand the arm's result to the parent."""
    print(RESULT + json.dumps(result), flush=True)


def run_child(
    script: str, arm: str, *args: str, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run ``script --child arm *args`` in a fresh process; its result, or exit with its stderr."""
    command = [sys.executable, script, "--child", arm, *args]
    done = subprocess.run(
        command, env=None if env is None else dict(env), capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"arm {arm} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len(RESULT) :])
    return result
