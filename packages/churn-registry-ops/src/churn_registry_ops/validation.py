"""The model-validation step: sanity-check one version, record the outcome, stage it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy.typing as npt
import pandas as pd

from churn_registry_ops.errors import SanityCheckFailed
from churn_registry_ops.registry import ModelRegistry
from churn_registry_ops.report import SanityReport
from churn_registry_ops.sanity import DEFAULT_MIN_ROC_AUC, check_model_version
from churn_registry_ops.state import UNCHECKED, Expected


def validate_version(
    registry: ModelRegistry,
    version: str | int,
    expected_features: Mapping[str, str],
    sample: pd.DataFrame,
    *,
    labels: npt.ArrayLike | None = None,
    min_roc_auc: float = DEFAULT_MIN_ROC_AUC,
    check_requirements: bool = True,
    make_challenger: bool = True,
    expected_challenger: Expected = UNCHECKED,
) -> SanityReport:
    """Run the sanity checks on `version`, tag the result, and make a passing version challenger.

    A failing version is tagged `churn_validation=failed` with the reasons (and their codes in
    `churn_validation_failed_checks`), and `SanityCheckFailed` (carrying the report) is raised;
    it never becomes challenger. A passing version older than the current challenger stays
    validated and raises `OlderThanChallenger` instead of replacing it.
    """
    info = registry.version(version)
    report = check_model_version(
        info.uri,
        expected_features,
        sample,
        labels=labels,
        min_roc_auc=min_roc_auc,
        check_requirements=check_requirements,
    )
    registry.record_validation(info.version, report)
    if not report.passed:
        raise SanityCheckFailed(registry.model_name, info.version, report)
    if make_challenger:
        registry.make_challenger(info.version, expected_challenger=expected_challenger)
    return report
