"""`churn demo`'s own logic: the store reset that refuses foreign folders, the code-change diff
and the refusals. The whole demo run is the end-to-end story of tests/test_seed_workflow.py and
`uv run churn demo --reset`."""

from __future__ import annotations

import os
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


def test_timings_hold_every_act_and_every_job_step_in_order(tmp_path: Path) -> None:
    import json

    from rich.console import Console

    from churn_jobs.demo import ActTimer, write_timings
    from churn_jobs.progress import steps

    console = Console(file=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    acts = ActTimer(console)
    acts.start("1. first")
    with steps(console, "job-a") as step:
        step("reading")
        step("writing")
    acts.start("2. second")
    acts.stop()

    write_timings(tmp_path / "t" / "timings.json", acts)

    report = json.loads((tmp_path / "t" / "timings.json").read_text())
    assert [a["act"] for a in report["acts"]] == ["1. first", "2. second"]
    ours = [s for s in report["steps"] if s["job"] == "job-a"][-2:]
    assert [(s["job"], s["step"]) for s in ours] == [("job-a", "reading"), ("job-a", "writing")]
    assert all(s["seconds"] >= 0 for s in ours)
    assert report["total_seconds"] >= sum(a["seconds"] for a in report["acts"])
