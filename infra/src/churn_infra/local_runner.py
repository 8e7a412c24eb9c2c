"""Run a job definition on this machine: the same ``JobSettings`` that deploy to Databricks.

Tasks run in dependency order (``depends_on``), in this process, one after another, so they
share one Spark session, as the tasks of a Databricks job share one job cluster. Each task's
``python_wheel_task`` is resolved to the console script its package declares (installed
distribution metadata) and called as ``fn(["--settings-json", json])``. A failed task marks its
downstream tasks ``UPSTREAM_FAILED``. A run record is written to ``$CHURN_HOME/runs/``.
"""

from __future__ import annotations

import graphlib
import importlib.metadata
import re
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from uuid import uuid4

from databricks.sdk.service.jobs import JobSettings, Task
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from churn_infra.errors import InfraError

EntryPoint = Callable[[list[str]], object]
TaskState = Literal["PENDING", "SUCCESS", "FAILED", "UPSTREAM_FAILED"]


class TaskRecord(BaseModel):
    task_key: str
    entry_point: str
    depends_on: list[str]
    state: TaskState = "PENDING"
    started_at: datetime | None = None
    duration_seconds: float | None = None
    error: str | None = None
    traceback: str | None = None


class RunRecord(BaseModel):
    run_id: str
    job: str
    started_at: datetime
    ended_at: datetime | None = None
    result: Literal["RUNNING", "SUCCESS", "FAILED"] = "RUNNING"
    tasks: list[TaskRecord]

    @property
    def succeeded(self) -> bool:
        return self.result == "SUCCESS"


def task_order(settings: JobSettings) -> list[Task]:
    """Tasks in dependency order (ties keep definition order); cycles are an error."""
    tasks = {t.task_key: t for t in settings.tasks or []}
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for key, task in tasks.items():
        deps = [d.task_key for d in task.depends_on or []]
        if missing := [d for d in deps if d not in tasks]:
            raise InfraError(f"Task {key!r} of {settings.name} depends on unknown tasks {missing}.")
        sorter.add(key, *deps)
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise InfraError(f"The tasks of {settings.name} form a cycle: {exc.args[1]}.") from None
    position = {key: i for i, key in enumerate(tasks)}
    # static_order is one valid order; re-sort stably by (depth, definition order) for readability.
    depth: dict[str, int] = {}
    for key in order:
        deps = [d.task_key for d in tasks[key].depends_on or []]
        depth[key] = 1 + max((depth[d] for d in deps), default=-1)
    return [tasks[k] for k in sorted(order, key=lambda k: (depth[k], position[k]))]


def resolve_entry_point(package_name: str, name: str) -> EntryPoint:
    """The console script ``name`` declared by the installed distribution ``package_name``."""
    wanted = _normalize(package_name)
    found = [
        ep
        for ep in importlib.metadata.entry_points(group="console_scripts", name=name)
        if ep.dist is not None and _normalize(ep.dist.name) == wanted
    ]
    if not found:
        raise InfraError(
            f"No console script {name!r} is declared by an installed {package_name!r}.",
            "install the workspace (`uv sync --all-packages`) or fix the job's entry_point",
        )
    try:
        function: EntryPoint = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise InfraError(
            f"Console script {name!r} of {package_name} ({found[0].value}) cannot be loaded: {exc}",
            "fix the entry point in that package's pyproject.toml",
        ) from None
    return function


def task_argv(task: Task) -> list[str]:
    """The command-line arguments Databricks would pass to the wheel task's entry point."""
    wheel = task.python_wheel_task
    if wheel is None:
        raise InfraError(
            f"Task {task.task_key!r} is not a python_wheel_task; the runner runs only those."
        )
    argv: list[str] = []
    for key, value in (wheel.named_parameters or {}).items():
        argv += [f"--{key}", value]
    return argv + list(wheel.parameters or [])


def run_job_locally(
    settings: JobSettings,
    home: Path,
    *,
    entry_points: Mapping[str, EntryPoint] | None = None,
    console: Console | None = None,
) -> RunRecord:
    """Run every task of ``settings`` in dependency order and return (and save) the run record.

    ``entry_points`` maps console-script names to callables (tests); by default each task's
    entry point is resolved from the installed distributions. All are resolved before the
    first task runs, so a missing one fails the run before anything is written.
    """
    out = console or Console()
    ordered = task_order(settings)
    functions = {task.task_key: _lookup(task, entry_points) for task in ordered}
    record = RunRecord(
        run_id=f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid4().hex[:6]}",
        job=settings.name or "job",
        started_at=datetime.now(UTC),
        tasks=[
            TaskRecord(
                task_key=t.task_key,
                entry_point=t.python_wheel_task.entry_point if t.python_wheel_task else "",
                depends_on=[d.task_key for d in t.depends_on or []],
            )
            for t in ordered
        ],
    )
    path = home / "runs" / f"{record.run_id}-{_slug(record.job)}.json"
    out.print(f"[bold]{record.job}[/bold]: {len(ordered)} tasks, run record {path}")
    states: dict[str, TaskState] = {}
    for task, entry in zip(ordered, record.tasks, strict=True):
        if any(states[d] != "SUCCESS" for d in entry.depends_on):
            entry.state = "UPSTREAM_FAILED"
            out.print(f"  [yellow]skipped[/yellow] {task.task_key} (upstream failed)")
        else:
            out.print(f"  [cyan]running[/cyan] {task.task_key} ({entry.entry_point})")
            _run_task(functions[task.task_key], task, entry)
            colour = "green" if entry.state == "SUCCESS" else "red"
            out.print(
                f"  [{colour}]{entry.state.lower()}[/{colour}] {task.task_key} "
                f"in {entry.duration_seconds:.1f}s" + (f": {entry.error}" if entry.error else "")
            )
        states[task.task_key] = entry.state
        _save(record, path)
    record.ended_at = datetime.now(UTC)
    record.result = "SUCCESS" if all(s == "SUCCESS" for s in states.values()) else "FAILED"
    _save(record, path)
    out.print(_summary(record))
    return record


def _lookup(task: Task, entry_points: Mapping[str, EntryPoint] | None) -> EntryPoint:
    wheel = task.python_wheel_task
    if wheel is None or not wheel.entry_point or not wheel.package_name:
        raise InfraError(f"Task {task.task_key!r} is not a python_wheel_task with an entry point.")
    if entry_points is None:
        return resolve_entry_point(wheel.package_name, wheel.entry_point)
    if wheel.entry_point not in entry_points:
        raise InfraError(f"No entry point {wheel.entry_point!r} among {sorted(entry_points)}.")
    return entry_points[wheel.entry_point]


def _run_task(function: EntryPoint, task: Task, entry: TaskRecord) -> None:
    entry.started_at = datetime.now(UTC)
    start = time.perf_counter()
    try:
        function(task_argv(task))
        entry.state = "SUCCESS"
    except SystemExit as exc:
        if exc.code in (None, 0):
            entry.state = "SUCCESS"
        else:
            entry.state = "FAILED"
            entry.error = exc.code if isinstance(exc.code, str) else f"exit code {exc.code}"
    except Exception as exc:
        entry.state = "FAILED"
        entry.error = f"{type(exc).__name__}: {exc}"
        entry.traceback = traceback.format_exc()
    entry.duration_seconds = round(time.perf_counter() - start, 3)


def _save(record: RunRecord, path: Path) -> None:
    """Write via a temporary file so a reader never sees half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.tmp")
    partial.write_text(record.model_dump_json(indent=2), encoding="utf-8")
    partial.replace(path)


def _summary(record: RunRecord) -> Table:
    table = Table(title=f"{record.job}: {record.result}")
    for column in ("task", "state", "seconds", "error"):
        table.add_column(column)
    for task in record.tasks:
        seconds = f"{task.duration_seconds:.1f}" if task.duration_seconds is not None else "-"
        table.add_row(task.task_key, task.state, seconds, task.error or "")
    return table


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
