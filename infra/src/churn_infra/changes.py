"""Apply a list of workspace changes in order; a failure names what was applied and what not.

Each change is idempotent against the workspace's state (uploads skip identical bytes, jobs are
upserted by name, permissions are replaced), so after fixing the cause a rerun completes the set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from databricks.sdk.errors import DatabricksError, PermissionDenied
from rich.console import Console

from churn_infra.errors import WorkspaceError


@dataclass(frozen=True)
class Change:
    description: str
    apply: Callable[[], object]
    """Runs the change; a string it returns is shown after the description (e.g. "skipped")."""


@dataclass
class ChangeLog:
    applied: list[str] = field(default_factory=list)


def apply_changes(
    changes: list[Change], *, what: str, rerun: str, out: Console | None = None
) -> ChangeLog:
    """Run every change; on a workspace error raise one WorkspaceError (exit 1) listing the
    changes applied, the one that failed (with the API's message), and those not applied."""
    log = ChangeLog()
    for index, change in enumerate(changes):
        try:
            outcome = change.apply()
        except DatabricksError as exc:
            raise WorkspaceError(
                _report(what, log.applied, change, exc, changes[index + 1 :]),
                _fix(exc, rerun),
            ) from None
        note = f" ({outcome})" if isinstance(outcome, str) else ""
        log.applied.append(change.description + note)
        if out is not None:
            out.print(f"  [green]done[/green] {change.description}{note}")
    return log


def _report(
    what: str, applied: list[str], failed: Change, exc: DatabricksError, rest: list[Change]
) -> str:
    status = f"{type(exc).__name__}: {_first_line(exc)}"
    lines = [f"{what} stopped part-way: {failed.description} failed ({status})."]
    lines.append(f"  applied ({len(applied)}):" + ("" if applied else " nothing"))
    lines += [f"    - {item}" for item in applied]
    lines.append(f"  not applied ({len(rest) + 1}):")
    lines += [f"    - {c.description}" for c in (failed, *rest)]
    return "\n".join(lines)


def _fix(exc: DatabricksError, rerun: str) -> str:
    cause = (
        "grant the deploying principal the missing permission (see the Deploying section of "
        "the README for the grants a workspace needs)"
        if isinstance(exc, PermissionDenied)
        else "fix the cause above (or wait for the workspace to recover)"
    )
    return f"{cause}, then rerun `{rerun}`: applied changes are skipped or repeated harmlessly"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
