"""Peak resident memory of this process and all its descendants (the Spark JVM, Python workers).

Sampled from /proc in a background thread; Linux only (the benchmarks' machines).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def tree_rss(root: int) -> int:
    """RSS in bytes of ``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        pid, ppid = int(entry.name), int(stat[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = pages * PAGE
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


class PeakMemory:
    peak_bytes: int = 0

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20


@contextmanager
def sample_peak(
    interval: float = 0.1, roots: Callable[[], list[int]] | None = None
) -> Iterator[PeakMemory]:
    """``with sample_peak() as peak: ...`` then ``peak.peak_mib``: the peak summed RSS of the
    process trees under ``roots()`` (default: this process, so the JVM and Python workers too)."""
    result = PeakMemory()
    pids = roots or (lambda: [os.getpid()])
    stop = threading.Event()

    def measure() -> None:
        result.peak_bytes = max(result.peak_bytes, sum(tree_rss(pid) for pid in pids()))

    def sample() -> None:
        while not stop.is_set():
            measure()
            stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        measure()
