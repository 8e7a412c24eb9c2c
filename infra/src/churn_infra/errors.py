"""churn-infra's own failures: one message naming the problem and the fix, no traceback.

``InfraError`` is a mistake the user can fix before anything changes (a bad environment file, a
dirty tree for prod, missing auth): exit code 2. ``WorkspaceError`` is a workspace call that
failed part-way (a 403 on permissions, a 5xx on an upload): it says what was applied and what
was not, and a rerun completes the set: exit code 1.
"""

from __future__ import annotations

from churn_jobs.errors import UserError


class InfraError(UserError):
    """A churn-jobs ``UserError`` too, so the ``churn`` CLI prints one raised by the
    environment loader it calls (see churn_jobs.environments) the same way."""

    exit_code = 2


class WorkspaceError(InfraError):
    exit_code = 1
