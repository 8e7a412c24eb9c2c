"""check_model_version on real logged churn-model versions and tampered copies (MLflow, SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import Tamper
from rops_models import CONTRACT

from churn_registry_ops import InvalidSample, SanityReport, check_model_version
from churn_registry_ops.sanity import _check_predictions


def _checks(report: SanityReport) -> dict[str, tuple[bool, str]]:
    return {c.name: (c.passed, c.detail) for c in report.checks}


@pytest.fixture(scope="module")
def sample(data: dict) -> pd.DataFrame:
    df, _ = data["reference"]
    return df.head(200).assign(customer_id=[f"c{i}" for i in range(200)])  # extra cols ignored


@pytest.fixture(scope="module")
def labels(data: dict) -> np.ndarray:
    return data["reference"][1][:200]


def test_a_good_model_passes_every_check(
    logged: dict[str, str], sample: pd.DataFrame, labels: np.ndarray
) -> None:
    report = check_model_version(logged["strong"], CONTRACT, sample, labels=labels)
    checks = _checks(report)
    assert report.passed, report.summary()
    assert list(checks) == [
        "trusted_format",
        "loads",
        "requirements",
        "signature",
        "predict",
        "one_value_per_row",
        "finite",
        "probability_range",
        "not_constant",
        "roc_auc",
        "deterministic",
    ]
    assert "declared requirements satisfied" in checks["requirements"][1]
    assert report.failure_reasons == []


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
    # the contract's rows cannot feed it either
    assert report.failure_reasons == ["signature_mismatch", "predict_failed"]


def test_a_constant_model_in_churn_models_own_format_is_refused(
    logged: dict[str, str], sample: pd.DataFrame, labels: np.ndarray
) -> None:
    report = check_model_version(logged["constant"], CONTRACT, sample, labels=labels)
    assert _checks(report)["trusted_format"][0]  # the format is genuine: the skill is not
    assert not report.passed
    assert report.failure_reasons == ["constant_predictions", "auc_below_floor"]
    assert "a constant model has no skill" in report.summary()


def test_the_roc_auc_floor_is_configurable(
    logged: dict[str, str], sample: pd.DataFrame, labels: np.ndarray
) -> None:
    weak = check_model_version(logged["weak"], CONTRACT, sample, labels=labels)
    assert weak.passed, weak.summary()
    strict = check_model_version(logged["weak"], CONTRACT, sample, labels=labels, min_roc_auc=0.9)
    assert strict.failure_reasons == ["auc_below_floor"]
    assert "is below the floor 0.9" in strict.summary()


def _add_pickle(root: Path) -> None:
    (root / "artifacts" / "extra.pkl").write_bytes(b"\x80\x04K\x01.")


def _replace_entry(root: Path) -> None:
    (root / "pyfunc_entry.py").write_text("import os\n", encoding="utf-8")


def _add_flavor(root: Path) -> None:
    spec = yaml.safe_load((root / "MLmodel").read_text())
    spec["flavors"]["sklearn"] = {"pickled_model": "model.pkl", "serialization_format": "pickle"}
    (root / "MLmodel").write_text(yaml.safe_dump(spec))


def _pickled_python_model(root: Path) -> None:
    spec = yaml.safe_load((root / "MLmodel").read_text())
    spec["flavors"]["python_function"]["loader_module"] = "mlflow.pyfunc.model"
    (root / "MLmodel").write_text(yaml.safe_dump(spec))


def _extra_artifact(root: Path) -> None:
    spec = yaml.safe_load((root / "MLmodel").read_text())
    spec["flavors"]["python_function"]["artifacts"]["hook"] = {"path": "artifacts/hook.py"}
    (root / "MLmodel").write_text(yaml.safe_dump(spec))
    (root / "artifacts" / "hook.py").write_text("print('hi')\n")


@pytest.mark.parametrize(
    ("edit", "reason", "words"),
    [
        (_add_pickle, "unexpected_files", "artifacts/extra.pkl"),
        (_replace_entry, "foreign_code", "not the one churn-model ships"),
        (_add_flavor, "foreign_flavor", "'sklearn'"),
        (_pickled_python_model, "foreign_flavor", "never from a pickled python_model"),
        (_extra_artifact, "unexpected_artifacts", "hook"),
    ],
)
def test_a_model_that_is_not_churn_models_format_is_refused_before_loading(
    tamper: Tamper,
    sample: pd.DataFrame,
    edit: Callable[[Path], None],
    reason: str,
    words: str,
) -> None:
    report = check_model_version(tamper("strong", edit), CONTRACT, sample)
    assert [c.name for c in report.checks] == ["trusted_format"]  # nothing else ran
    assert report.failure_reasons == [reason]
    assert words in report.summary()


def test_unsatisfiable_requirements_and_a_removed_signature_fail_their_checks(
    tamper: Tamper, sample: pd.DataFrame
) -> None:
    def pin_old_numpy(root: Path) -> None:
        with (root / "requirements.txt").open("a") as f:
            f.write("\nnumpy<1.0\n")

    report = check_model_version(tamper("strong", pin_old_numpy), CONTRACT, sample)
    assert report.failure_reasons == ["unsatisfied_requirements"]
    assert "numpy<1.0 (installed" in report.summary()

    def drop_signature(root: Path) -> None:
        spec = yaml.safe_load((root / "MLmodel").read_text())
        del spec["signature"]
        (root / "MLmodel").write_text(yaml.safe_dump(spec))

    report = check_model_version(tamper("strong", drop_signature), CONTRACT, sample)
    assert _checks(report)["signature"] == (False, "model has no input signature; log it with one")


def _probabilities(rows: pd.DataFrame) -> np.ndarray:
    """A plausible model: churn probability rising with the monthly charges."""
    z = (rows["monthly_charges"].to_numpy(dtype=float) - 60) / 10
    return 1 / (1 + np.exp(-z))


@pytest.mark.parametrize(
    ("predict", "check", "words"),
    [
        (lambda r: np.where(np.arange(len(r)) % 4, _probabilities(r), np.nan), "finite", "NaN"),
        (lambda r: (r["monthly_charges"].to_numpy() - 60) / 10, "probability_range", "outside"),
        (lambda r: np.random.default_rng().random(len(r)), "deterministic", "not deterministic"),
        (
            lambda r: np.column_stack([_probabilities(r), _probabilities(r)]),
            "one_value_per_row",
            "1-d",
        ),
        (lambda r: np.full(len(r), 0.5), "not_constant", "constant model"),
    ],
)
def test_each_prediction_defect_fails_its_own_check(
    sample: pd.DataFrame, predict: Callable[[pd.DataFrame], np.ndarray], check: str, words: str
) -> None:
    checks = _check_predictions(predict, sample[list(CONTRACT)])
    failed = [c for c in checks if not c.passed]
    assert [c.name for c in failed] == [check]
    assert words in failed[0].detail
    assert failed[0].reason is not None


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
    with pytest.raises(InvalidSample, match="single class"):
        check_model_version(logged["strong"], CONTRACT, sample, labels=np.zeros(len(sample)))
    with pytest.raises(ValueError, match="unknown column type"):
        check_model_version(logged["strong"], {"tenure": "whole number"}, sample)
