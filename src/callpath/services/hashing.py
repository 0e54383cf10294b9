"""Password hashing off the event loop, in a small pool of threads of its own.

An argon2 verification takes a quarter of a second of CPU by design. Run on the event loop
it stalls every routing answer and tracker reply behind it; run in the loop's shared thread
pool, a flood of logins takes the threads that database work needs. Here it gets a few
threads of its own, at a lower scheduling priority than the rest of the process (argon2-cffi
releases the GIL while it hashes), and a bounded queue: past it a login is answered "busy"
at once instead of waiting behind a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# One hashing at a time: argon2 already spreads one across cores (4 lanes), and a second
# at once did not log more in a flood, only took the CPU calls need (bench/login_flood.py).
WORKERS = 1
MAX_WAITING = 8  # queued behind it (about 2 s of work); more is a flood, answered busy
NICE = 10  # hashing threads yield the CPU to the event loop and the call worker


class Busy(Exception):
    """Every hashing thread is taken and the queue is full: try again shortly."""


def _lower_priority() -> None:
    """Linux applies nice per thread; elsewhere this is a no-op."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class HashPool:
    def __init__(self, workers: int = WORKERS, max_waiting: int = MAX_WAITING) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="callpath-hash", initializer=_lower_priority
        )
        self._limit = workers + max_waiting
        self._lock = threading.Lock()
        self._admitted = 0

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """`fn(*args)` in the pool; Busy at once when the pool and its queue are full.

        A job counts until it has run, even when its caller stopped waiting for it."""
        with self._lock:
            if self._admitted >= self._limit:
                raise Busy("too many logins at once")
            self._admitted += 1
        future: Future[T] = self._executor.submit(fn, *args)
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _future: Future[Any]) -> None:
        with self._lock:
            self._admitted -= 1


POOL = HashPool()  # threads start on first use
