"""The hashing pool runs work in a thread of its own and refuses, at once, work that
would wait behind a full queue."""

from __future__ import annotations

import asyncio
import threading

import pytest

from callpath.services.hashing import Busy, HashPool
from tests.helpers import run_async


def test_work_runs_off_the_callers_thread_and_a_full_queue_answers_busy() -> None:
    pool = HashPool(workers=1, max_waiting=1)
    release = threading.Event()

    def held() -> int:
        assert release.wait(60)
        return threading.get_ident()

    async def scenario() -> None:
        loop_thread = threading.get_ident()
        first = asyncio.ensure_future(pool.run(held))
        queued = asyncio.ensure_future(pool.run(held))
        await asyncio.sleep(0)  # both submitted, the worker held by the first
        with pytest.raises(Busy):
            await pool.run(held)
        release.set()
        ran_in = await asyncio.gather(first, queued)
        assert loop_thread not in ran_in
        assert await pool.run(threading.get_ident) != loop_thread  # room again

    run_async(scenario())


def test_work_its_caller_stopped_waiting_for_keeps_its_place_until_it_ran() -> None:
    pool = HashPool(workers=1, max_waiting=0)
    release, ran = threading.Event(), threading.Event()

    def held() -> None:
        assert release.wait(60)
        ran.set()

    async def scenario() -> None:
        task = asyncio.ensure_future(pool.run(held))
        await asyncio.sleep(0)
        task.cancel()  # the client went away; the thread still verifies
        with pytest.raises(Busy):
            await pool.run(held)
        release.set()
        await asyncio.to_thread(ran.wait, 60)

    run_async(scenario())
