"""CI's wall time and CPU: `bash .ci/run` on clean clones of two revisions, side by side.

    .venv/bin/python benchmarks/ci_time.py --base c5623ef --rounds 2 --out .churn/bench/ci_time.json

Each run is what CI does: a fresh ``git clone`` of this repository checked out at the revision,
then ``bash .ci/run`` in it (the caches outside the checkout, uv's and ~/.cache/churn-ci, are
shared, as on a CI machine that keeps them). Rounds alternate which revision goes first, so a
machine that slows down during the benchmark does not favour one of them.

Besides the wall time, the machine's CPU is read from /proc/stat every second (Linux): the
CPU-seconds the run kept busy, and the core-seconds it left idle, in all and in its last 60 s
(where the last session often runs alone). A run whose idle core-seconds are few is CPU-bound:
it gets shorter only with less work, not with more concurrency. Nothing else should run on the
machine meanwhile; the load average at the start is reported.

A run can change the caches the next one starts from: .ci/run before bda7f08 pruned uv's cache
with ``--ci``, which drops the pyspark wheel uv built, so the run after it builds pyspark again
(about a minute). Compare runs that follow the same revision, or add rounds.

``uvx nox -s bench`` holds uv's cache lock while it runs, and ``uv cache prune`` waits for it:
.ci/run's prunes give up after 10 s, but a revision before that change waits 5 minutes per prune
(twice a run); so does ``uv run``. Compare such revisions with the workspace's Python, as above.

Not in the default ``nox -s bench`` (each run takes minutes): ``nox -s bench -- ci_time.py`` runs
it against the previous commit, once.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from _report import emit  # noqa: E402

#: issue 15's target for `bash .ci/run` on 2 cores
TARGET_SECONDS = 360
#: a session's line in the summary nox -s ci prints last: "nox > ok   219s  tests(member=...)"
SESSION_LINE = re.compile(r"^nox > (ok|FAILED|failed)\s+(\d+)s\s+(\S+)", re.MULTILINE)
#: the same in nox's own summary, which revisions before the lanes print instead:
#: "nox > * tests(member=...): success, took 8 minutes"
NOX_SESSION_LINE = re.compile(r"^nox > \* (\S+): (success|failed), took (.+)$", re.MULTILINE)


def cpu_seconds() -> tuple[float, float] | None:
    """(busy, idle) CPU-seconds of the whole machine since boot, or None without /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(v) for v in stat.readline().split()[1:8]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / hz, (idle + iowait) / hz


class CpuTimeline:
    """The machine's busy and idle CPU-seconds, one sample a second, in a background thread."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, busy, idle)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuTimeline:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        now = cpu_seconds()
        if now is not None:
            self.samples.append((time.monotonic(), *now))

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def totals(self, last: float | None = None) -> dict[str, float] | None:
        """Busy and idle CPU-seconds over the run, or over its ``last`` seconds."""
        if len(self.samples) < 2:
            return None
        end = self.samples[-1]
        start = self.samples[0]
        if last is not None:
            start = next(s for s in self.samples if s[0] >= end[0] - last)
        return {
            "busy_cpu_s": round(end[1] - start[1], 1),
            "idle_core_s": round(end[2] - start[2], 1),
        }


def ci_shell_env() -> dict[str, str]:
    """This process's environment as a CI shell has it: without the virtual environment this
    benchmark runs in (``nox -s bench``'s), which .ci/run must neither use nor see."""
    env = dict(os.environ)
    venv = env.pop("VIRTUAL_ENV", None)
    if venv:
        bin_dir = str(Path(venv) / "bin")
        env["PATH"] = os.pathsep.join(
            p for p in env.get("PATH", "").split(os.pathsep) if p != bin_dir
        )
    return env


def is_commit(revision: str) -> bool:
    """Whether ``revision`` names a commit of this repository (what a clone can check out)."""
    found = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
    )
    return found.returncode == 0


def run_ci(revision: str, logs: Path, label: str) -> dict[str, Any]:
    """`bash .ci/run` in a clean clone of this repository at ``revision``."""
    with tempfile.TemporaryDirectory(prefix="churn-ci-bench-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", revision], check=True)
        commit = subprocess.run(
            ["git", "-C", str(clone), "rev-parse", "--short", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        log = logs / f"{label}.log"
        started = time.monotonic()
        with CpuTimeline() as timeline, log.open("w") as out:
            result = subprocess.run(
                ["bash", ".ci/run"],
                cwd=clone,
                env=ci_shell_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    sessions: dict[str, dict[str, Any]] = {
        name: {"status": status.lower(), "took": took}
        for name, status, took in NOX_SESSION_LINE.findall(text)
    }
    sessions.update(
        {
            name: {"status": status.lower(), "seconds": int(secs)}
            for status, secs, name in SESSION_LINE.findall(text)
        }
    )
    return {
        "revision": revision,
        "commit": commit,
        "exit_code": result.returncode,
        "seconds": round(seconds, 1),
        "cpu": timeline.totals(),
        "cpu_last_60_s": timeline.totals(last=60),
        "sessions": sessions,
        "log": str(log),
    }


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median seconds and busy CPU-seconds of one revision's passing runs."""
    passed = [r for r in runs if r["exit_code"] == 0]
    busy = [r["cpu"]["busy_cpu_s"] for r in passed if r["cpu"]]
    return {
        "runs": len(runs),
        "passed": len(passed),
        "seconds": [r["seconds"] for r in runs],
        "median_seconds": statistics.median(r["seconds"] for r in passed) if passed else None,
        "median_busy_cpu_s": statistics.median(busy) if busy else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="the revision to compare against")
    parser.add_argument("--head", default="HEAD", help="the revision measured")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each revision")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    for revision in (args.base, args.head):
        if not is_commit(revision):
            parser.error(
                f"{revision!r} is not a commit of {REPO} (a clean clone runs committed code "
                "only): give a commit, tag or branch, e.g. --base HEAD~3"
            )
    logs = (args.out.parent if args.out else REPO / ".churn" / "bench") / "ci_time_logs"
    logs.mkdir(parents=True, exist_ok=True)
    load_at_start = round(os.getloadavg()[0], 2)
    runs: dict[str, list[dict[str, Any]]] = {"base": [], "head": []}
    for round_ in range(args.rounds):
        order = ("base", "head") if round_ % 2 == 0 else ("head", "base")
        for which in order:
            revision = args.base if which == "base" else args.head
            run = run_ci(revision, logs, f"{which}-{round_ + 1}")
            print(
                f"{which} {run['commit']} round {round_ + 1}: exit {run['exit_code']}, "
                f"{run['seconds']} s, cpu {run['cpu']}",
                file=sys.stderr,
                flush=True,
            )
            runs[which].append(run)
    base, head = summary(runs["base"]), summary(runs["head"])
    ratio = (
        round(head["median_seconds"] / base["median_seconds"], 3)
        if head["median_seconds"] and base["median_seconds"]
        else None
    )
    report = {
        "benchmark": "ci_time",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_average_at_start": load_at_start,
        "target_seconds": TARGET_SECONDS,
        "base": base,
        "head": head,
        "head_over_base_seconds": ratio,
        "head_meets_target": (
            head["median_seconds"] <= TARGET_SECONDS if head["median_seconds"] else None
        ),
        "runs": runs,
    }
    emit(report, args.out)
    return 0 if all(r["exit_code"] == 0 for rs in runs.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
