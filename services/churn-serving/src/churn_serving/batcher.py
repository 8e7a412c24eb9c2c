"""Micro-batching: concurrent requests share one lookup and one ``predict_proba`` call.

A forest scores 50 rows in about the time it scores one, so requests wait in an asyncio queue and
a single worker takes everything queued (waiting at most ``max_wait`` seconds for company when it
would otherwise score a lone request) and scores it in one call on a dedicated thread, leaving
the event loop free to accept the next requests meanwhile. While a batch is scoring, the next one
fills up by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")
Extra = TypeVar("Extra")


class MicroBatcher(Generic[Req, Res, Extra]):
    def __init__(
        self,
        score: Callable[[list[Req]], tuple[list[Res], Extra]],
        *,
        max_wait: float = 0.002,
        max_rows: int = 2048,
        size: Callable[[Req], int] = lambda _: 1,
        on_batch: Callable[[Extra, int], None] | None = None,
    ) -> None:
        self.score = score
        self.max_wait = max_wait
        self.max_rows = max_rows
        self.size = size
        self.on_batch = on_batch
        self._queue: asyncio.Queue[tuple[Req, asyncio.Future[Res]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="churn-score")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, request: Req) -> Res:
        assert self._queue is not None, "start() the batcher first"
        future: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        await self._queue.put((request, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            rows = self.size(batch[0][0])
            deadline = loop.time() + self.max_wait
            while rows < self.max_rows:
                if not queue.empty():
                    item = queue.get_nowait()
                elif len(batch) == 1 and (remaining := deadline - loop.time()) > 0:
                    try:
                        item = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    break
                batch.append(item)
                rows += self.size(item[0])
            live = [(r, f) for r, f in batch if not f.cancelled()]
            if not live:
                continue
            try:
                results, extra = await loop.run_in_executor(
                    self._executor, self.score, [r for r, _ in live]
                )
            except Exception as exc:  # answered per request; the worker keeps running
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(live, results, strict=True):
                if not future.done():
                    future.set_result(result)
            if self.on_batch is not None:
                self.on_batch(extra, len(live))
