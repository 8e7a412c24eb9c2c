"""Progress display for long steps: a spinner with the current step and the time it took."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console


@dataclass(frozen=True)
class StepTiming:
    job: str
    step: str
    seconds: float


_RECORDED: list[StepTiming] = []


def recorded_steps() -> list[StepTiming]:
    """Every step finished in this process so far, in order (``churn demo --timings``)."""
    return list(_RECORDED)


@contextmanager
def steps(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """Yield ``step(description)``; each call closes the previous step with its duration."""
    started = time.perf_counter()
    current: list[tuple[str, float]] = []

    def close() -> None:
        if current:
            name, at = current.pop()
            seconds = time.perf_counter() - at
            _RECORDED.append(StepTiming(title, name, round(seconds, 3)))
            console.print(f"  [green]✓[/] {name} [dim]({seconds:.1f}s)[/]")

    with console.status(f"[bold]{title}[/]") as status:

        def step(description: str) -> None:
            close()
            current.append((description, time.perf_counter()))
            status.update(f"[bold]{title}[/]: {description}")

        try:
            yield step
        except BaseException:
            if current:
                name, _ = current.pop()
                console.print(f"  [red]✗[/] {name}")
            raise
        close()
    console.print(f"[bold]{title}[/] done in {time.perf_counter() - started:.1f}s")
