"""User-facing errors of churn-scoring: each message names the problem and the fix.

Callers (the churn-jobs service) print ``str(error)`` without a traceback and exit with code 2.
"""

from __future__ import annotations


class ChurnScoringError(Exception):
    """Base class: a failure the user can fix (missing keys table, model, feature spec...)."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  fix: {fix}")


class KeysTableNotFoundError(ChurnScoringError):
    """The table of keys to score does not exist."""


class KeysColumnError(ChurnScoringError):
    """The keys to score lack the key column (or a requested passthrough column)."""


class ModelNotFoundError(ChurnScoringError):
    """The model URI names no registered model, version, alias or stage."""


class ModelFeatureSpecError(ChurnScoringError):
    """The model was logged without a feature spec, so its features cannot be looked up."""


class PredictionsTableError(ChurnScoringError):
    """The predictions table exists with another layout, or the write options are invalid."""
