"""Dynamic batching: concurrent requests from many episodes merged into few batched calls.

A worker plays many episodes at once, each awaiting its own `policy.generate`. One batched
forward pass costs about as much as one single-sequence pass on small models, so the backend
queues requests and runs them together: after the first request arrives it waits a short window
(a few ms) or until `max_batch` requests are queued, splits what it has into groups that can share
one call (same sampling settings), and runs the groups one after another. Requests that arrive
while a batch runs are queued and form the next batch, so a busy worker keeps the model full.

    batcher = DynamicBatcher(run=run_group, key=lambda r: r.temperature, max_batch=64)
    result = await batcher.submit(request)   # from any number of tasks at once
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["DynamicBatcher"]

T = TypeVar("T")
R = TypeVar("R")


class DynamicBatcher(Generic[T, R]):
    """Runs `run(group)` over batches of submitted items; `run` returns one result per item."""

    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R]]],
        key: Callable[[T], Hashable],
        max_batch: int = 64,
        wait_s: float = 0.003,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._run = run
        self._key = key
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Calls of `run` so far (one per group)."""

    async def submit(self, item: T) -> R:
        """Queue `item` and wait for its result (or the exception its batch raised)."""
        queue = self._ensure_running()
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        queue.put_nowait((item, future))
        return await future

    def _ensure_running(self) -> asyncio.Queue[tuple[T, asyncio.Future[R]]]:
        loop = asyncio.get_running_loop()
        # The serving task belongs to one event loop; a policy reused from another loop (a new
        # asyncio.run) starts a fresh one rather than hanging on a dead queue.
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._serve(self._queue), name="policy-batcher")
        assert self._queue is not None
        return self._queue

    async def aclose(self) -> None:
        """Stop serving; requests still queued get a CancelledError."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._queue is not None:
            while not self._queue.empty():
                self._queue.get_nowait()[1].cancel()
        self._task = self._queue = None

    async def _serve(self, queue: asyncio.Queue[tuple[T, asyncio.Future[R]]]) -> None:
        while True:
            batch = await self._collect(queue)
            for group in self._groups(batch):
                await self._run_group(group)

    async def _collect(
        self, queue: asyncio.Queue[tuple[T, asyncio.Future[R]]]
    ) -> list[tuple[T, asyncio.Future[R]]]:
        batch = [await queue.get()]
        deadline = asyncio.get_running_loop().time() + self.wait_s
        while len(batch) < self.max_batch:
            if not queue.empty():
                batch.append(queue.get_nowait())
                continue
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(queue.get(), left))
            except TimeoutError:
                break
        return batch

    def _groups(
        self, batch: list[tuple[T, asyncio.Future[R]]]
    ) -> list[list[tuple[T, asyncio.Future[R]]]]:
        groups: dict[Hashable, list[tuple[T, asyncio.Future[R]]]] = {}
        for entry in batch:
            if not entry[1].done():  # the caller gave up (cancelled) while it waited
                groups.setdefault(self._key(entry[0]), []).append(entry)
        return list(groups.values())

    async def _run_group(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        self.batches += 1
        try:
            results = await self._run([item for item, _ in group])
        except Exception as e:  # handed to every caller of the group, the server goes on
            for _, future in group:
                if not future.done():
                    future.set_exception(e)
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)
