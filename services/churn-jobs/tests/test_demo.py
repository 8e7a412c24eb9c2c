"""`churn demo`'s own logic: the store reset that refuses foreign folders, the code-change diff
and the refusals. The whole demo run is the end-to-end story of tests/test_seed_workflow.py and
`uv run churn demo --reset`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn_jobs.cli import app
from churn_jobs.demo import BASELINE_PARAMS, CODE_CHANGE_PARAMS, _diff, reset_home
from churn_jobs.errors import UserError
from churn_jobs.local_platform import LocalPlatform

REPO = Path(__file__).resolve().parents[3]


def test_reset_refuses_a_folder_that_is_not_a_churn_store(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(UserError, match="refusing to delete it"):
        reset_home(tmp_path)
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_reset_empties_a_churn_store_and_accepts_a_missing_one(tmp_path: Path) -> None:
    home = LocalPlatform(tmp_path / "home").ensure_home()  # created (and marked) by churn
    (home / "spark-warehouse" / "churn.db").mkdir(parents=True)
    (home / "mlflow.db").write_bytes(b"")
    reset_home(home)
    assert not home.exists()
    reset_home(home)  # nothing there: nothing to do
    assert not home.exists()


def test_the_code_change_is_max_depth_4_to_8_and_nothing_else(infra_dir: Path) -> None:
    diff = _diff(
        infra_dir / "params" / f"{BASELINE_PARAMS}.yaml",
        infra_dir / "params" / f"{CODE_CHANGE_PARAMS}.yaml",
    )
    changed = [
        line
        for line in diff.code.splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    ]
    settings = [line for line in changed if not line[1:].lstrip().startswith("#")]
    assert settings == ["-    max_depth: 4", "+    max_depth: 8"]
    assert diff.code.startswith(f"--- infra/params/{BASELINE_PARAMS}.yaml")


def test_the_demo_refuses_an_environment_that_is_not_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(app, ["demo", "--env", "dev"], env={"CHURN_HOME": str(tmp_path)})
    assert result.exit_code == 2, result.output
    assert "local-platform environment" in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir()), "nothing was started or written"
