"""The local runner: the same JobSettings, tasks in dependency order, in this process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from databricks.sdk.service import jobs
from rich.console import Console

from churn_infra.cli import main as churn_infra_main
from churn_infra.environment import load_environment
from churn_infra.jobs import JOB_TASKS, PACKAGE_NAME
from churn_infra.launch import launch
from churn_infra.local_runner import (
    RunRecord,
    resolve_entry_point,
    run_job_locally,
    task_order,
)
from churn_jobs.errors import UserError
from churn_jobs.settings import RuntimeSettings

QUIET = Console(quiet=True)


def _job(
    *tasks: tuple[str, list[str]], package: str = PACKAGE_NAME, **named: str
) -> jobs.JobSettings:
    return jobs.JobSettings(
        name="TEST-job",
        tasks=[
            jobs.Task(
                task_key=key,
                depends_on=[jobs.TaskDependency(task_key=d) for d in deps],
                python_wheel_task=jobs.PythonWheelTask(
                    package_name=package, entry_point=f"ep-{key}", named_parameters=dict(named)
                ),
            )
            for key, deps in tasks
        ],
    )


class Recorder:
    """Fake entry points (callables injected into the runner), remembering their calls."""

    def __init__(self, fail: dict[str, BaseException] | None = None) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.fail = fail or {}

    def registry(self, settings: jobs.JobSettings) -> dict:
        def make(name: str):
            def entry(argv: list[str]) -> None:
                self.calls.append((name, argv))
                if name in self.fail:
                    raise self.fail[name]

            return entry

        return {
            t.python_wheel_task.entry_point: make(t.python_wheel_task.entry_point)
            for t in settings.tasks or []
            if t.python_wheel_task
        }


def test_tasks_run_in_dependency_order_not_definition_order() -> None:
    settings = _job(("c", ["b"]), ("b", ["a"]), ("d", ["a"]), ("a", []))
    assert [t.task_key for t in task_order(settings)] == ["a", "b", "d", "c"]


def test_a_cycle_is_a_user_error() -> None:
    with pytest.raises(UserError, match="cycle"):
        task_order(_job(("a", ["b"]), ("b", ["a"])))


def test_a_dangling_dependency_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown tasks"):
        task_order(_job(("a", ["zz"])))


def test_each_task_gets_its_settings_json_and_a_record_is_written(tmp_path: Path) -> None:
    settings = _job(("a", []), ("b", ["a"]), **{"settings-json": '{"x": 1}'})
    recorder = Recorder()
    record = run_job_locally(
        settings, tmp_path, entry_points=recorder.registry(settings), console=QUIET
    )
    assert recorder.calls == [
        ("ep-a", ["--settings-json", '{"x": 1}']),
        ("ep-b", ["--settings-json", '{"x": 1}']),
    ]
    assert record.succeeded
    (path,) = (tmp_path / "runs").glob("*.json")
    saved = RunRecord.model_validate_json(path.read_text())
    assert saved == record
    assert [t.state for t in saved.tasks] == ["SUCCESS", "SUCCESS"]
    assert all(t.duration_seconds is not None and t.duration_seconds >= 0 for t in saved.tasks)


def test_a_failure_skips_downstream_tasks_but_not_independent_ones(tmp_path: Path) -> None:
    settings = _job(("a", []), ("b", ["a"]), ("c", ["b"]), ("d", []))
    recorder = Recorder(fail={"ep-b": SystemExit(2)})
    record = run_job_locally(
        settings, tmp_path, entry_points=recorder.registry(settings), console=QUIET
    )
    states = {t.task_key: t.state for t in record.tasks}
    assert states == {"a": "SUCCESS", "b": "FAILED", "c": "UPSTREAM_FAILED", "d": "SUCCESS"}
    assert [name for name, _ in recorder.calls] == ["ep-a", "ep-d", "ep-b"]
    assert "ep-c" not in [name for name, _ in recorder.calls]
    assert record.result == "FAILED"
    failed = next(t for t in record.tasks if t.task_key == "b")
    assert failed.error == "exit code 2"


@pytest.mark.parametrize(
    ("raised", "state", "error"),
    [
        (SystemExit(0), "SUCCESS", None),
        (SystemExit(None), "SUCCESS", None),
        (SystemExit("table churn_features is empty"), "FAILED", "table churn_features is empty"),
        (RuntimeError("boom"), "FAILED", "RuntimeError: boom"),
    ],
)
def test_how_an_entry_point_ends_decides_the_state(
    tmp_path: Path, raised: BaseException, state: str, error: str | None
) -> None:
    settings = _job(("a", []))
    record = run_job_locally(
        settings,
        tmp_path,
        entry_points=Recorder({"ep-a": raised}).registry(settings),
        console=QUIET,
    )
    assert record.tasks[0].state == state
    assert record.tasks[0].error == error


def test_a_missing_injected_entry_point_fails_before_any_task_runs(tmp_path: Path) -> None:
    settings = _job(("a", []), ("b", ["a"]))
    recorder = Recorder()
    registry = recorder.registry(settings)
    del registry["ep-b"]
    with pytest.raises(UserError, match="ep-b"):
        run_job_locally(settings, tmp_path, entry_points=registry, console=QUIET)
    assert recorder.calls == []
    assert not (tmp_path / "runs").exists()


# -- the default path: real console scripts from installed distribution metadata ----------------


def test_entry_points_resolve_from_installed_metadata() -> None:
    assert resolve_entry_point("churn-infra", "churn-infra") is churn_infra_main
    assert resolve_entry_point("churn_infra", "churn-infra") is churn_infra_main


@pytest.mark.parametrize(
    ("package", "name"), [("churn-infra", "churn-nope"), ("churn-model", "churn-infra")]
)
def test_an_undeclared_entry_point_is_a_user_error(package: str, name: str) -> None:
    with pytest.raises(UserError, match="No console script"):
        resolve_entry_point(package, name)


def test_the_default_runner_calls_real_console_scripts(tmp_path: Path, infra_dir: Path) -> None:
    """No injection: the task runs the real churn-infra console script in this process."""
    settings = jobs.JobSettings(
        name="TEST-real",
        tasks=[
            jobs.Task(
                task_key="list",
                python_wheel_task=jobs.PythonWheelTask(
                    package_name="churn-infra",
                    entry_point="churn-infra",
                    parameters=["environments", "--infra-dir", str(infra_dir)],
                ),
            ),
            jobs.Task(
                task_key="bad",
                depends_on=[jobs.TaskDependency(task_key="list")],
                python_wheel_task=jobs.PythonWheelTask(
                    package_name="churn-infra",
                    entry_point="churn-infra",
                    parameters=["deploy", "no-such-env", "--infra-dir", str(infra_dir)],
                ),
            ),
        ],
    )
    record = run_job_locally(settings, tmp_path, console=QUIET)
    assert [(t.task_key, t.state) for t in record.tasks] == [("list", "SUCCESS"), ("bad", "FAILED")]
    assert record.tasks[1].error == "exit code 2"


def test_every_job_entry_point_loads() -> None:
    for tasks in JOB_TASKS.values():
        for spec in tasks:
            assert callable(resolve_entry_point(PACKAGE_NAME, spec.entry_point))


def test_launch_local_runs_the_same_definition(
    tmp_path: Path, infra_dir: Path, repo_root: Path
) -> None:
    from churn_infra.jobs import build_job
    from churn_infra.release import predict_release

    env = load_environment("local", infra_dir)
    settings = build_job(env, "initial-model-train-register", predict_release(repo_root))
    recorder = Recorder()
    result = launch(
        "initial-model-train-register",
        "local",
        infra_dir=infra_dir,
        repo_root=repo_root,
        home=tmp_path,
        entry_points=recorder.registry(settings),
        console=QUIET,
    )
    assert result.succeeded
    assert [name for name, _ in recorder.calls] == [
        "churn-feature-table-refresh",
        "churn-model-train",
        "churn-model-validation",
    ]
    for _, argv in recorder.calls:
        assert argv[0] == "--settings-json"
        payload = json.loads(argv[1])
        assert RuntimeSettings.model_validate(payload["runtime"]) == env.runtime
    assert json.loads(recorder.calls[0][1][1])["params"]["source"] == "vendored"
    assert len(list((tmp_path / "runs").glob("*.json"))) == 1


def test_launch_local_failure(tmp_path: Path, infra_dir: Path, repo_root: Path) -> None:
    from churn_infra.jobs import build_job
    from churn_infra.release import predict_release

    env = load_environment("local", infra_dir)
    settings = build_job(env, "model-train", predict_release(repo_root))
    recorder = Recorder(fail={"churn-model-train": SystemExit(2)})
    result = launch(
        "model-train",
        "local",
        infra_dir=infra_dir,
        repo_root=repo_root,
        home=tmp_path,
        entry_points=recorder.registry(settings),
        console=QUIET,
    )
    assert not result.succeeded
    assert result.task_states == {"model-train": "FAILED", "model-validation": "UPSTREAM_FAILED"}
