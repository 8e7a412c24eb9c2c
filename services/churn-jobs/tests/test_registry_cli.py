"""`churn promote`, `churn rollback` and `churn models` through the CLI (typer's CliRunner)
against a real local MLflow registry (SQLite under a tmp CHURN_HOME)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from churn_jobs.cli import app
from churn_jobs.context import JobContext
from churn_jobs.environments import load_runtime_settings
from churn_jobs.registry_access import registry
from churn_registry_ops import ModelRegistry
from churn_registry_ops.sanity import CheckResult, SanityReport

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The local environment's registry with versions 1 and 2 validated and 3 failed."""
    home = tmp_path_factory.mktemp("churn-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(REPO)  # the CLI finds infra/ from the working directory
        reg = _registry(home)
        source = home / "model-files"
        source.mkdir()
        reg.client.create_registered_model(reg.model_name)
        for passed in (True, True, False):
            version = reg.client.create_model_version(reg.model_name, source.as_uri()).version
            check = CheckResult(name="signature", passed=passed, detail="test")
            reg.record_validation(version, SanityReport(model_uri="test", checks=[check]))
        yield home


def _registry(home: Path) -> ModelRegistry:
    return registry(JobContext(runtime=load_runtime_settings("local"), home=home))


def churn(home: Path, *args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"CHURN_HOME": str(home)})


def _roles(home: Path) -> tuple[str | None, str | None]:
    state = _registry(home).state()
    return state.champion, state.previous_champion


def _table_column(output: str, column: str) -> dict[str, str]:
    """version -> the cell of ``column`` in the rich table ``churn models`` prints."""
    # rich's default box: a heavy bar in the header row, a light one below
    lines = output.replace("┃", "│").splitlines()
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines]
    rows = [r for r in rows if r]
    header = rows[0]
    return {r[0]: r[header.index(column)] for r in rows[1:] if r[0]}


def test_promote_then_rollback_by_hand(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    first = churn(home, "promote", "--version", "1")
    assert first.exit_code == 0, first.output
    assert "champion: v1 (previous: none)" in first.output
    assert _roles(home) == ("1", None)

    second = churn(home, "promote", "-v", "2")
    assert second.exit_code == 0, second.output
    assert "champion: v2 (previous: 1)" in second.output
    assert _roles(home) == ("2", "1")
    assert _registry(home).version(1).role == "archived"

    models = churn(home, "models")
    assert models.exit_code == 0, models.output
    roles = _table_column(models.output, "role")
    assert roles["2"] == "champion", models.output
    assert roles["1"].startswith("archived"), models.output
    assert _table_column(models.output, "validation")["3"] == "failed", models.output

    back = churn(home, "rollback")
    assert back.exit_code == 0, back.output
    assert "champion: v1 (rolled back from v2)" in back.output
    assert _roles(home) == ("1", None)
    assert _registry(home).version(2).role == "archived"

    again = churn(home, "rollback")
    assert again.exit_code == 2
    assert "Traceback" not in again.output
    assert "previous champion" in again.output.lower()
    assert _roles(home) == ("1", None), "a refused rollback changes nothing"


def test_promotion_refusals_are_one_message_and_change_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    before = _registry(home).state()

    unvalidated = churn(home, "promote", "--version", "3")
    assert unvalidated.exit_code == 2
    assert "version 3 failed validation" in unvalidated.output
    assert "Traceback" not in unvalidated.output

    missing = churn(home, "promote", "--version", "9")
    assert missing.exit_code == 2
    assert "has no version '9'" in missing.output
    assert "Traceback" not in missing.output

    assert _registry(home).state() == before


def test_the_demo_refuses_a_store_that_already_holds_versions(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    before = _registry(home).state()
    result = churn(home, "demo")
    assert result.exit_code == 2, result.output
    assert "already holds versions" in result.output
    assert "churn demo --reset" in result.output
    assert _registry(home).state() == before
