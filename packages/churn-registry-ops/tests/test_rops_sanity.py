"""check_model_version on real logged pyfunc models (MLflow, SQLite store)."""

from __future__ import annotations

import pandas as pd
import pytest
from rops_models import CONTRACT

from churn_registry_ops import InvalidSample, SanityReport, check_model_version


def _checks(report: SanityReport) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.passed, c.detail) for c in report.checks}


@pytest.fixture(scope="module")
def sample(data: dict) -> pd.DataFrame:
    df, _ = data["reference"]
    return df.head(40).assign(customer_id=[f"c{i}" for i in range(40)])  # extra cols are ignored


def test_a_good_model_passes_every_check(logged: dict[str, str], sample: pd.DataFrame) -> None:
    report = check_model_version(logged["strong"], CONTRACT, sample)
    checks = _checks(report)
    assert report.passed, report.summary()
    assert set(checks) == {
        "loads",
        "requirements",
        "signature",
        "predict",
        "one_value_per_row",
        "finite",
        "probability_range",
        "deterministic",
    }
    assert "4 declared requirements satisfied" in checks["requirements"][1]


def test_signature_mismatch_names_missing_extra_and_mistyped_columns(
    logged: dict[str, str], sample: pd.DataFrame
) -> None:
    report = check_model_version(logged["wrong_signature"], CONTRACT, sample)
    passed, detail = _checks(report)["signature"]
    assert not report.passed
    assert not passed
    assert "missing columns: contract" in detail
    assert "extra columns: payment_method" in detail
    assert "tenure (expected long, got double)" in detail


def test_no_signature_fails(logged: dict[str, str], sample: pd.DataFrame) -> None:
    report = check_model_version(logged["no_signature"], CONTRACT, sample)
    assert _checks(report)["signature"] == (
        False,
        "model has no input signature; log it with one",
    )


@pytest.mark.parametrize(
    ("kind", "check", "words"),
    [
        ("nan", "finite", "NaN or infinite"),
        ("raw", "probability_range", "outside [0, 1]"),
        ("random", "deterministic", "not deterministic"),
        ("two_columns", "one_value_per_row", "expected 1-d"),
        ("unsatisfiable", "requirements", "numpy<1.0 (installed"),
    ],
)
def test_broken_models_fail_the_right_check(
    logged: dict[str, str], sample: pd.DataFrame, kind: str, check: str, words: str
) -> None:
    report = check_model_version(logged[kind], CONTRACT, sample)
    passed, detail = _checks(report)[check]
    assert not passed
    assert words in detail
    assert not report.passed
    assert words in report.summary()
    # the other checks still ran and only the broken aspect failed
    assert [c.name for c in report.failures] == [check]


def test_a_model_that_does_not_load_fails_loads(tracking_uri: str, sample: pd.DataFrame) -> None:
    report = check_model_version("models:/no_such_model/3", CONTRACT, sample)
    assert [c.name for c in report.checks] == ["loads"]
    assert not report.passed


def test_sample_without_contract_columns_is_a_caller_error(
    logged: dict[str, str], sample: pd.DataFrame
) -> None:
    with pytest.raises(InvalidSample, match=r"lacks contract columns \['contract'\]"):
        check_model_version(logged["strong"], CONTRACT, sample.drop(columns=["contract"]))
    with pytest.raises(InvalidSample, match="empty"):
        check_model_version(logged["strong"], CONTRACT, sample.head(0))
    with pytest.raises(ValueError, match="unknown column type"):
        check_model_version(logged["strong"], {"tenure": "whole number"}, sample)
