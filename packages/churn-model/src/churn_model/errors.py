"""User-facing errors of churn-model.

Every message names the problem and the fix; callers (the churn-jobs service) print the message
without a traceback and exit with code 2.
"""


class ChurnModelError(Exception):
    """Base class of every error a user of churn-model can cause."""


class ModelConfigError(ChurnModelError):
    """The model configuration (YAML file or mapping) is invalid."""


class FeatureColumnsError(ChurnModelError):
    """The input frame lacks columns the model consumes, or labels do not match the rows."""


class FeatureSpecError(ChurnModelError):
    """A feature spec file is missing, unreadable or invalid."""


class UntrustedModelError(ChurnModelError):
    """A model holds something churn-model did not write: types outside the trusted list,
    foreign code or files. ``reason`` is a short code to tag the refused version with."""

    def __init__(self, message: str, *, reason: str = "untrusted_types") -> None:
        super().__init__(message)
        self.reason = reason


class ModelLoadError(ChurnModelError):
    """A logged churn model cannot be found or read.

    ``problem`` and ``fix`` are kept apart so callers can re-word them (churn-scoring does).
    """

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}. Fix: {fix}" if fix else problem)
