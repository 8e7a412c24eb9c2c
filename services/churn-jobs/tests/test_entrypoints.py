"""The console scripts as Databricks (and the local runner) call them: exit codes and messages."""

import json
from pathlib import Path

import pytest
from conftest import run_cli

from churn_jobs.request import JobRequest
from churn_jobs.settings import RuntimeSettings


def test_a_user_mistake_is_one_message_and_exit_2(tmp_path: Path, runtime: RuntimeSettings) -> None:
    request = JobRequest(runtime=runtime, params={"source": str(tmp_path / "missing.csv")})
    result = run_cli(
        "churn-feature-table-refresh", f"--settings-json={request.to_json()}", home=tmp_path
    )
    assert result.returncode == 2, result.stderr
    assert "Cannot read the raw source" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not any((tmp_path / "spark-warehouse").glob("churn_test.db/*")), "nothing written"


def test_settings_file_and_bad_json(tmp_path: Path, runtime: RuntimeSettings) -> None:
    bad = run_cli("churn-model-validation", "--settings-json", "{oops", home=tmp_path)
    assert bad.returncode == 2
    assert "not valid JSON" in bad.stderr
    path = tmp_path / "request.json"
    path.write_text(json.dumps({"runtime": {"environment": "x"}, "params": {}}))
    invalid = run_cli("churn-model-train", "--settings-file", str(path), home=tmp_path)
    assert invalid.returncode == 2
    assert "runtime.experiment: Field required" in invalid.stderr
    assert "Traceback" not in invalid.stderr


def test_a_spark_setting_the_local_platform_refuses_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """churn-local-spark refuses it before any JVM starts; the CLI prints problem and fix."""
    from churn_jobs.errors import UserError
    from churn_jobs.local_platform import LocalPlatform

    monkeypatch.setenv("CHURN_SPARK_JIT", "fast")
    with pytest.raises(UserError) as error:
        LocalPlatform(tmp_path).spark()
    assert error.value.problem == "CHURN_SPARK_JIT='fast' is not a JIT choice"
    assert error.value.fix is not None
    assert error.value.fix.startswith("set it to 'client'")
