"""The model-validation step: sanity-check one version, record the outcome, stage it."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from churn_registry_ops.errors import SanityCheckFailed
from churn_registry_ops.registry import UNCHECKED, Expected, ModelRegistry
from churn_registry_ops.sanity import SanityReport, check_model_version


def validate_version(
    registry: ModelRegistry,
    version: str | int,
    expected_features: Mapping[str, str],
    sample: pd.DataFrame,
    *,
    check_requirements: bool = True,
    make_challenger: bool = True,
    expected_challenger: Expected = UNCHECKED,
) -> SanityReport:
    """Run the sanity checks on `version`, tag the result, and make a passing version challenger.

    A failing version is tagged `churn_validation=failed` with the reasons and
    `SanityCheckFailed` (carrying the report) is raised; it never becomes challenger.
    """
    info = registry.version(version)
    report = check_model_version(
        info.uri, expected_features, sample, check_requirements=check_requirements
    )
    registry.record_validation(info.version, report)
    if not report.passed:
        raise SanityCheckFailed(registry.model_name, info.version, report)
    if make_challenger:
        registry.make_challenger(info.version, expected_challenger=expected_challenger)
    return report
