"""Running database work from request handlers.

SQLite allows one writer at a time, so this process's writes are serial anyway: they run
inline on the event loop, sparing thread hand-offs that cost more CPU than the work itself
(bench/tracker_load.py, bench/webhook_load.py: with a thread per call, threads queued on
the write lock and the webhook's CPU per call tripled). PostgreSQL work goes to a small
thread pool, where waits on the network overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi import BackgroundTasks

from callpath.services.pipeline import Reply
from callpath.web.context import Context

R = TypeVar("R")
DB_THREADS = anyio.CapacityLimiter(8)


async def run_db(c: Context, fn: Callable[..., R], *args: Any) -> R:
    if c.inline_db:
        return fn(*args)
    return await anyio.to_thread.run_sync(fn, *args, limiter=DB_THREADS)


def apply_after(c: Context, background: BackgroundTasks, reply: Reply) -> None:
    """Fold and match the call once the answer went out (`reply.call_key`: a new event).

    On SQLite right after the answer, on the event loop; elsewhere by the apply process
    (`services.applier`) while it is alive, so folding never competes with the routing
    answers for this process's core, else by the process's call worker (one thread, so
    a burst of calls does not become a burst of threads); with neither, in the thread
    pool."""
    key = reply.call_key
    if not key:
        return
    if c.inline_db or not c.pipeline.apply_soon(key):
        background.add_task(run_db, c, c.pipeline.apply, key)
