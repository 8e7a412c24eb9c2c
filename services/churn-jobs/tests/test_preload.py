"""Background imports: done in their own thread, failures left to the job's own import."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from churn_jobs.preload import import_in_background
from churn_jobs.runner import JOBS, job_module

PROBE = "import threading\nIMPORTED_BY = threading.current_thread().name\n"


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in ("churn_preload_probe", "churn_preload_broken"):
        sys.modules.pop(name, None)


def test_modules_are_imported_in_a_thread_and_failures_left_to_the_job(modules: Path) -> None:
    (modules / "churn_preload_probe.py").write_text(PROBE)
    (modules / "churn_preload_broken.py").write_text("raise RuntimeError('broken on import')\n")

    thread = import_in_background(["churn_preload_broken", "churn_preload_probe"])
    assert thread is not None
    thread.join(timeout=60)
    assert not thread.is_alive()

    assert sys.modules["churn_preload_probe"].IMPORTED_BY == thread.name != "MainThread"
    assert "churn_preload_broken" not in sys.modules
    with pytest.raises(RuntimeError, match="broken on import"):
        importlib.import_module("churn_preload_broken")
    assert import_in_background(["churn_preload_probe"]) is None, "nothing left to import"


@pytest.mark.parametrize("job", sorted(JOBS))
def test_every_preloaded_module_exists(job: str) -> None:
    for name in getattr(job_module(job), "PRELOAD", ()):
        assert importlib.util.find_spec(name) is not None, f"{job} preloads {name}: not found"
