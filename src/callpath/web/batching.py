"""Requests that arrive together are served together: one unit of work for a group.

A session start costs the database mostly its transaction (BEGIN, COMMIT, the write of
the log), not its rows. Under load many starts wait at the same instant, so they are
handed to the service as one group (`tracking.start_sessions`: one transaction). Nothing
waits for a group to fill: a request that finds no group running starts one on the next
turn of the event loop, which takes whatever has arrived by then; requests arriving while
groups run join the next. A quiet server thus runs groups of one, as before.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
RunGroup = Callable[[list[T]], Awaitable[Sequence[R | Exception]]]


class Grouper(Generic[T, R]):
    """Runs items through `run` in groups of at most `size`, at most `parallel` groups
    at once. `run` returns one result per item, in order: a value, or the exception that
    item's caller gets; an exception raised by `run` itself is every item's."""

    def __init__(self, run: RunGroup[T, R], *, size: int, parallel: int) -> None:
        if size < 1 or parallel < 1:
            raise ValueError("size and parallel must be at least 1")
        self._run = run
        self._size = size
        self._parallel = parallel
        self._waiting: deque[tuple[T, asyncio.Future[R]]] = deque()
        self._scheduled = 0  # groups started that have not yet taken their items
        self._active = 0  # groups running their items
        self._tasks: set[asyncio.Task[None]] = set()  # held, so none is collected mid-run

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        self._start_groups()
        return await future

    def _start_groups(self) -> None:
        # A group takes its items when it first runs, so one already on its way takes
        # the ones arriving before then; another is started only for more than it takes.
        while (
            self._scheduled + self._active < self._parallel
            and len(self._waiting) > self._scheduled * self._size
        ):
            self._scheduled += 1
            task = asyncio.ensure_future(self._group())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _group(self) -> None:
        self._scheduled -= 1
        self._active += 1
        try:
            taken = [self._waiting.popleft() for _ in range(min(self._size, len(self._waiting)))]
            batch = [(item, future) for item, future in taken if not future.done()]
            if batch:
                await self._deliver(batch)
        finally:
            self._active -= 1
            self._start_groups()

    async def _deliver(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        results: Sequence[R | Exception]
        try:
            results = await self._run([item for item, _ in batch])
        except Exception as exc:  # the group's own failure: every item's answer
            results = [exc] * len(batch)
        except BaseException:  # cancelled (the server stops): so are its requests
            for _, future in batch:
                future.cancel()
            raise
        if len(results) != len(batch):
            results = [RuntimeError("a group's answers do not match its requests")] * len(batch)
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its request went away (cancelled)
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
