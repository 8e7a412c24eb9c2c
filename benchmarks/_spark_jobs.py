"""How much of a stretch of wall time Spark spent running jobs, read from its event log.

On 7,043 rows a refresh is not bound by its Spark jobs: most of its seconds go to the driver
between them (analysis and planning, Delta log and catalog calls). This splits a timed stretch
into seconds when at least one job ran and the rest, so a change can be aimed at the right part.

Call ``enable_event_log`` before Spark starts (it sets pyspark's ``PYSPARK_SUBMIT_ARGS``: the
local platform builds its own settings), then ``job_time(log_dir, start, end)`` with
``time.time()`` stamps taken around what was timed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def enable_event_log(log_dir: Path) -> None:
    """Before the JVM starts: an uncompressed event log of this process's Spark in ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PYSPARK_SUBMIT_ARGS"] = (
        "--conf spark.eventLog.enabled=true --conf spark.eventLog.compress=false "
        f"--conf spark.eventLog.rolling.enabled=false --conf spark.eventLog.dir={log_dir.as_uri()}"
        " pyspark-shell"
    )


def job_time(log_dir: Path, start: float, end: float) -> dict[str, Any]:
    """Jobs that started in [``start``, ``end``] (epoch seconds): their count, the seconds when
    at least one of them ran, and the remainder of the stretch (driver-side time)."""
    intervals = sorted((begin, finish) for begin, finish in _jobs(log_dir) if start <= begin <= end)
    busy, reached = 0.0, start
    for begin, finish in intervals:
        finish = min(finish, end)
        if finish > reached:
            busy += finish - max(begin, reached)
            reached = finish
    wall = end - start
    return {
        "spark_jobs": len(intervals),
        "seconds_in_spark_jobs": round(busy, 2),
        "seconds_between_jobs": round(wall - busy, 2),
    }


def _jobs(log_dir: Path) -> list[tuple[float, float]]:
    submitted: dict[int, float] = {}
    jobs = []
    for log in log_dir.iterdir():
        if not log.is_file():
            continue
        with log.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:  # the last line of a log still being written
                    continue
                kind = event["Event"]
                if kind == "SparkListenerJobStart":
                    submitted[event["Job ID"]] = event["Submission Time"] / 1000
                elif kind == "SparkListenerJobEnd" and event["Job ID"] in submitted:
                    jobs.append((submitted[event["Job ID"]], event["Completion Time"] / 1000))
    return jobs
