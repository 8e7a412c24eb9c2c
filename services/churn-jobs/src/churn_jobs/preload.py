"""Import the libraries a job will need in a background thread, while its driver waits on Spark.

A local job's first seconds are a JVM starting and Spark jobs running, with this process's Python
mostly waiting on py4j; model-train then spends seconds importing mlflow, scikit-learn, skops and
matplotlib. A thread imports them during the wait. Python's per-module import locks make the job's
own import of a module the thread is loading wait for it, never load it twice. A module that fails
to import here is left to the job's own import, which reports it.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence


def import_in_background(modules: Sequence[str]) -> threading.Thread | None:
    """Start importing ``modules`` (those not imported yet) in a thread; None if none is left.

    Not a daemon thread: an interpreter that exits while it imports waits for it (seconds at
    most), rather than finalizing under a thread that may be writing an import warning."""
    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return None
    thread = threading.Thread(target=_import_all, args=(missing,), name="churn-preload")
    thread.start()
    return thread


def _import_all(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the job's own import of it raises and reports
            continue
