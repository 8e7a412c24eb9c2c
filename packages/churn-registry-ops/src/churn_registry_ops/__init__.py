"""Model registry facade (aliases or stages), sanity checks, champion/challenger decision,
promotion and rollback."""

from importlib.metadata import version as _version

from churn_registry_ops.comparison import (
    BootstrapSettings,
    ComparisonRule,
    ConfidenceInterval,
    Decision,
    compare,
    compute_metrics,
)
from churn_registry_ops.errors import (
    ConcurrentRegistryChange,
    InvalidComparisonInput,
    InvalidRegistryOperation,
    InvalidSample,
    ModelNotFound,
    NoChallenger,
    NoChampion,
    NoPreviousChampion,
    RegistryLocked,
    RegistryOpsError,
    SanityCheckFailed,
    VersionNotFound,
    VersionNotValidated,
)
from churn_registry_ops.registry import (
    UNCHECKED,
    ModelRegistry,
    ModelVersionInfo,
    RegistryState,
)
from churn_registry_ops.sanity import CheckResult, SanityReport, check_model_version

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
