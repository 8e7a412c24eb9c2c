"""A readable diff between a deployed job's settings and the ones about to be deployed."""

from __future__ import annotations

import contextlib
import copy
import difflib
import json
from typing import Any

from churn_infra.jobs import SETTINGS_PARAMETER

SERVER_FILLED = frozenset({"format", "edit_mode", "deployment", "run_as", "queue"})
"""Top-level fields the workspace fills in by itself when a definition leaves them out."""


def readable(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with each task's ``settings-json`` parameter decoded, so diffs show fields."""
    out = copy.deepcopy(settings)
    for task in out.get("tasks", []):
        named = task.get("python_wheel_task", {}).get("named_parameters", {})
        if isinstance(named.get(SETTINGS_PARAMETER), str):
            with contextlib.suppress(ValueError):
                named[SETTINGS_PARAMETER] = json.loads(named[SETTINGS_PARAMETER])
    return out


def comparable(deployed: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    """``deployed`` without what the server added on its own (defaults we never set)."""
    return _prune(deployed, desired, top=True)


def _prune(deployed: Any, desired: Any, top: bool = False) -> Any:
    if isinstance(deployed, dict) and isinstance(desired, dict):
        out = {}
        for key, value in deployed.items():
            if key not in desired and (
                value in ({}, [], None, 0, False, "") or (top and key in SERVER_FILLED)
            ):
                continue
            out[key] = _prune(value, desired.get(key))
        return out
    if isinstance(deployed, list) and isinstance(desired, list):
        return [
            _prune(item, desired[i] if i < len(desired) else None)
            for i, item in enumerate(deployed)
        ]
    return deployed


def settings_diff(name: str, deployed: dict[str, Any] | None, desired: dict[str, Any]) -> str:
    """Unified diff of the two settings as sorted, indented JSON ('' when nothing changes)."""
    before = readable(comparable(deployed, desired)) if deployed is not None else {}
    after = readable(desired)
    if before == after:
        return ""
    lines = difflib.unified_diff(
        _lines(before) if deployed is not None else [],
        _lines(after),
        fromfile=f"{name} (deployed)",
        tofile=f"{name} (new)",
        lineterm="",
    )
    return "\n".join(lines)


def _lines(data: dict[str, Any]) -> list[str]:
    return json.dumps(data, indent=2, sort_keys=True).splitlines()
