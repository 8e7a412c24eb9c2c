"""Model registry facade (aliases or stages), sanity checks, champion/challenger decision,
promotion and rollback."""

from importlib import import_module
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

from churn_registry_ops.errors import (
    ConcurrentRegistryChange,
    InvalidComparisonInput,
    InvalidRegistryOperation,
    InvalidSample,
    ModelNotFound,
    NoChallenger,
    NoChampion,
    NoPreviousChampion,
    OlderThanChallenger,
    PendingRegistryChange,
    RegistryLocked,
    RegistryOpsError,
    SanityCheckFailed,
    VersionNotFound,
    VersionNotValidated,
)
from churn_registry_ops.report import CheckResult, SanityReport
from churn_registry_ops.rule import BootstrapSettings, ComparisonRule
from churn_registry_ops.state import UNCHECKED, ModelVersionInfo, RegistryState

__version__ = _version("churn-registry-ops")

__all__ = [
    "UNCHECKED",
    "BootstrapSettings",
    "CheckResult",
    "ComparisonRule",
    "ConcurrentRegistryChange",
    "ConfidenceInterval",
    "Decision",
    "InvalidComparisonInput",
    "InvalidRegistryOperation",
    "InvalidSample",
    "ModelNotFound",
    "ModelRegistry",
    "ModelVersionInfo",
    "NoChallenger",
    "NoChampion",
    "NoPreviousChampion",
    "OlderThanChallenger",
    "PendingRegistryChange",
    "RegistryLocked",
    "RegistryOpsError",
    "RegistryState",
    "SanityCheckFailed",
    "SanityReport",
    "VersionNotFound",
    "VersionNotValidated",
    "check_model_version",
    "compare",
    "compute_metrics",
]

# The comparison and the sanity checks import scikit-learn (seconds), and the registry MLflow
# (about a second): resolved on first use (PEP 562), so that the registry operations (`churn
# models`, `churn promote`) start without scikit-learn, and the errors (which every churn command
# catches) and job parameters (`ComparisonRule`) import without either.
# `ComparisonRule` (module `rule`) and the report models are pydantic only and imported eagerly.
_LAZY = {
    "ModelRegistry": "churn_registry_ops.registry",
    "ConfidenceInterval": "churn_registry_ops.comparison",
    "Decision": "churn_registry_ops.comparison",
    "compare": "churn_registry_ops.comparison",
    "compute_metrics": "churn_registry_ops.comparison",
    "check_model_version": "churn_registry_ops.sanity",
}

if TYPE_CHECKING:
    from churn_registry_ops.comparison import (
        ConfidenceInterval,
        Decision,
        compare,
        compute_metrics,
    )
    from churn_registry_ops.registry import ModelRegistry
    from churn_registry_ops.sanity import check_model_version


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'churn_registry_ops' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
