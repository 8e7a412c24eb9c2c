"""Progress display for long steps: a spinner with the current step and the time it took."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console


@contextmanager
def steps(console: Console, title: str) -> Iterator[Callable[[str], None]]:
    """Yield ``step(description)``; each call closes the previous step with its duration."""
    started = time.perf_counter()
    current: list[tuple[str, float]] = []

    def close() -> None:
        if current:
            name, at = current.pop()
            console.print(f"  [green]✓[/] {name} [dim]({time.perf_counter() - at:.1f}s)[/]")

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
