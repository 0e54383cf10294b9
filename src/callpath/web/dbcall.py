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
# Routing answers have threads of their own: tracker work waiting on a busy or hung
# database must never leave a call waiting for a thread.
ROUTING_THREADS = anyio.CapacityLimiter(8)
# How long tracker work moved off the event loop waits for SQLite's write lock before
# the snippet is answered 503 (it then shows the page's own number). Longer than the
# routing budget: a burst of starts from several worker processes queues for the one
# writer, and a visit left untracked costs more than a snippet answered late.
TRACKER_WAIT = 5.0  # seconds


async def run_db(c: Context, fn: Callable[..., R], *args: Any) -> R:
    """Tracker and other request work: see `_run`; a thread waits up to `TRACKER_WAIT`."""
    return await _run(c, DB_THREADS, TRACKER_WAIT, fn, *args)


async def run_routing(c: Context, fn: Callable[..., R], *args: Any) -> R:
    """A routing answer's work: see `_run`; a thread waits up to the busy budget."""
    return await _run(c, ROUTING_THREADS, db.BUDGET, fn, *args)


async def _run(
    c: Context, limiter: anyio.CapacityLimiter, wait: float, fn: Callable[..., R], *args: Any
) -> R:
    """SQLite: inline while the write lock is free. When it is taken (the apply
    process's save, a CLI command, a backup, a thread of this process) the work goes to
    a thread, where it waits up to `wait`, so the event loop never sleeps in a lock wait
    while every other answer queues behind it. PostgreSQL: a thread."""
    if c.inline_db:
        try:
            with db.no_wait():
                return fn(*args)
        except db.WouldWait:
            pass  # nothing was written: run it again where waiting holds up no one
        return await anyio.to_thread.run_sync(db.waiting_at_most, wait, fn, *args, limiter=limiter)
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)


def apply_after(c: Context, background: BackgroundTasks, reply: Reply) -> None:
    """Fold and match the call once the answer went out (`reply.call_key`: a new event).

    By the apply process (`workers.applier`) while it is alive, so folding never
    competes with the routing answers for this process's core; else on SQLite right
    after the answer, on the event loop, and elsewhere by the process's call worker (one
    thread, so a burst of calls does not become a burst of threads); with neither, in
    the thread pool."""
    key = reply.call_key
    if not key or c.pipeline.applier_alive:
        return
    if c.inline_db or not c.pipeline.apply_soon(key):
        background.add_task(run_db, c, c.pipeline.apply, key)
