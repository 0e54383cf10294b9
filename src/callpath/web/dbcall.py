"""Running database work from request handlers.

SQLite allows one writer at a time, so this process's writes are serial anyway: they run
inline on the event loop, sparing thread hand-offs that cost more CPU than the work itself
(bench/tracker_load.py, bench/webhook_load.py: with a thread per call, threads queued on
the write lock and the webhook's CPU per call tripled), except while another holds the
write lock (`run_db`). PostgreSQL work goes to a small thread pool, where waits on the
network overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from fastapi import BackgroundTasks

from callpath.services.pipeline import Reply
from callpath.storage import db
from callpath.web.context import Context

R = TypeVar("R")
DB_THREADS = anyio.CapacityLimiter(8)


async def run_db(c: Context, fn: Callable[..., R], *args: Any) -> R:
    """SQLite: inline while the write lock is free. When it is taken (the apply
    process's save, a CLI command, a backup, a thread of this process) the work goes to
    a thread, where it waits up to the busy budget, so the event loop never sleeps in a
    lock wait while every other answer queues behind it."""
    if c.inline_db:
        try:
            with db.no_wait():
                return fn(*args)
        except db.WouldWait:
            pass  # nothing was written: run it again where waiting holds up no one
        return await anyio.to_thread.run_sync(db.in_a_hurry, fn, *args, limiter=DB_THREADS)
    return await anyio.to_thread.run_sync(fn, *args, limiter=DB_THREADS)


def apply_after(c: Context, background: BackgroundTasks, reply: Reply) -> None:
    """Fold and match the call once the answer went out (`reply.call_key`: a new event).

    By the apply process (`services.applier`) while it is alive, so folding never
    competes with the routing answers for this process's core; else on SQLite right
    after the answer, on the event loop, and elsewhere by the process's call worker (one
    thread, so a burst of calls does not become a burst of threads); with neither, in
    the thread pool."""
    key = reply.call_key
    if not key or c.pipeline.applier_alive:
        return
    if c.inline_db or not c.pipeline.apply_soon(key):
        background.add_task(run_db, c, c.pipeline.apply, key)
