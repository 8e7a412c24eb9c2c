"""User-facing errors: each message names the problem and the fix (the service exits 2).

Names follow the domain (NoChampion, not NoChampionError), hence the N818 waivers.
"""

from __future__ import annotations

from churn_registry_ops.report import SanityReport


class RegistryOpsError(Exception):
    """Base class: a problem the user can fix; the message is meant to be shown as is."""


class ModelNotFound(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(
            f"Registered model '{model_name}' does not exist in the MLflow registry. "
            "Train and register a model first (churn-model-train), or check the environment's "
            "registered model name."
        )


class VersionNotFound(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str, version: object) -> None:
        self.model_name = model_name
        self.version = version
        super().__init__(
            f"Model '{model_name}' has no version {version!r}. "
            "List the versions with `churn models`."
        )


class NoChampion(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(
            f"Model '{model_name}' has no champion yet, so there is nothing to compare a "
            "challenger against. Promote the first one by hand: `churn promote --version N` "
            "(pick a validated version from `churn models`), or let model-deployment promote "
            "the validated challenger: set promote_when_no_champion: true in its parameters."
        )


class NoChallenger(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(
            f"Model '{model_name}' has no challenger. Train a new version and run "
            "churn-model-validation to make it the challenger."
        )


class NoPreviousChampion(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        super().__init__(
            f"Model '{model_name}' has no previous champion to roll back to (nothing was "
            "promoted over another champion since the last rollback). Promote a specific "
            "version instead: `churn promote --version N`."
        )


class VersionNotValidated(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str, version: str, status: str | None, reason: str) -> None:
        self.model_name = model_name
        self.version = version
        self.status = status
        what = "has not been validated" if status is None else f"failed validation: {reason}"
        super().__init__(
            f"Model '{model_name}' version {version} {what}. Only versions that passed the "
            f"sanity checks can become challenger or champion; run "
            f"`churn-model-validation` for version {version} (after fixing the model)."
        )


class SanityCheckFailed(RegistryOpsError):  # noqa: N818
    def __init__(self, model_name: str, version: str, report: SanityReport) -> None:
        self.model_name = model_name
        self.version = version
        self.report = report
        super().__init__(
            f"Model '{model_name}' version {version} failed its sanity checks and was tagged "
            f"churn_validation=failed; it will not become challenger. {report.summary()}"
        )


class ConcurrentRegistryChange(RegistryOpsError):  # noqa: N818
    """The registry changed between reading the state and applying a change: nothing was done."""

    def __init__(self, model_name: str, detail: str) -> None:
        self.model_name = model_name
        self.detail = detail
        super().__init__(
            f"Refusing to change model '{model_name}': {detail}. Another run or person changed "
            "the registry meanwhile; nothing was changed. Check `churn models` and rerun."
        )


class RegistryLocked(ConcurrentRegistryChange):
    def __init__(self, model_name: str, lock_name: str, holder: str, waited: float) -> None:
        self.lock_name = lock_name
        self.holder = holder
        super().__init__(
            model_name,
            f"another operation holds the registry lock '{lock_name}' ({holder}) and did not "
            f"release it within {waited:.0f} s. If that run died, the lock expires by itself; "
            f"to clear it now delete the registered model '{lock_name}'",
        )


class OlderThanChallenger(RegistryOpsError):  # noqa: N818
    """A validated version is older than the current challenger: it does not replace it."""

    def __init__(self, model_name: str, version: str, challenger: str) -> None:
        self.model_name = model_name
        self.version = version
        self.challenger = challenger
        super().__init__(
            f"Model '{model_name}' version {version} passed validation but is older than the "
            f"challenger, version {challenger}; it stays validated and does not replace it. "
            f"To compare it anyway, archive version {challenger} first."
        )


class PendingRegistryChange(RegistryOpsError):  # noqa: N818
    """A change was interrupted half-way (crash, lost lease); `repair()` completes it."""

    def __init__(self, model_name: str, detail: str) -> None:
        self.model_name = model_name
        self.detail = detail
        super().__init__(
            f"Model '{model_name}' has a half-applied registry change ({detail}). "
            "Complete it with `churn repair` (the next deployment also completes it)."
        )


class InvalidComparisonInput(RegistryOpsError):  # noqa: N818
    """Scores or labels handed to `compare` cannot be compared (length, range, one class...)."""


class InvalidRegistryOperation(RegistryOpsError):  # noqa: N818
    """The operation makes no sense for that version (e.g. archiving the champion)."""


class InvalidSample(RegistryOpsError):  # noqa: N818
    """The sample rows handed to the sanity checks cannot exercise the model."""
