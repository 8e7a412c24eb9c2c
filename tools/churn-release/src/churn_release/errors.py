"""A release mistake (bad tag, missing changelog entry, excluded version): one message, exit 2."""

from __future__ import annotations


class ReleaseError(Exception):
    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}" if fix else problem)
