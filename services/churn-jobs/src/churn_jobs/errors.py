"""User-facing failures: one clear message naming the problem and the fix; exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake a user can fix (bad data, bad config, unknown environment, missing model...).

    The CLI and the job entry points print ``str(error)`` without a traceback and exit 2.
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)
