"""Requests that arrive together are handed on together (`web.batching.Grouper`)."""

from __future__ import annotations

import asyncio

import pytest

from callpath.web.batching import Grouper
from tests.helpers import run_async


class _Recorder:
    """A group runner that keeps what it was given; `gate` holds a group until set."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.running = 0
        self.most_at_once = 0
        self.gate = asyncio.Event()

    async def __call__(self, items: list[int]) -> list[int | Exception]:
        self.groups.append(items)
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await self.gate.wait()
            return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]
        finally:
            self.running -= 1


async def _gather(grouper: Grouper[int, int], items: range) -> list[int | BaseException]:
    return await asyncio.gather(*(grouper(i) for i in items), return_exceptions=True)


def test_items_arriving_together_run_as_one_group_and_each_gets_its_own_answer() -> None:
    async def main() -> tuple[_Recorder, list[int | BaseException]]:
        run = _Recorder()
        run.gate.set()
        got = await _gather(Grouper(run, size=16, parallel=1), range(6))
        return run, got

    run, got = run_async(main())
    assert run.groups == [[0, 1, 2, 3, 4, 5]]
    assert [g if isinstance(g, int) else str(g) for g in got] == [
        0,
        "odd 1",
        20,
        "odd 3",
        40,
        "odd 5",
    ]


def test_groups_are_bounded_in_size_and_in_number_running_at_once() -> None:
    async def main() -> _Recorder:
        run = _Recorder()
        grouper: Grouper[int, int] = Grouper(run, size=3, parallel=2)
        waiting = asyncio.ensure_future(_gather(grouper, range(10)))
        for _ in range(5):
            await asyncio.sleep(0)  # let the first groups start and block on the gate
        assert run.running == 2  # the rest wait for one of them to end
        run.gate.set()
        await waiting
        return run

    run = run_async(main())
    assert run.most_at_once == 2
    assert all(len(g) <= 3 for g in run.groups)
    assert sorted(i for g in run.groups for i in g) == list(range(10))


def test_a_quiet_caller_runs_at_once_in_a_group_of_its_own() -> None:
    async def main() -> tuple[_Recorder, int]:
        run = _Recorder()
        run.gate.set()
        grouper: Grouper[int, int] = Grouper(run, size=16, parallel=1)
        return run, await grouper(4)

    run, got = run_async(main())
    assert (run.groups, got) == ([[4]], 40)


def test_a_failing_group_answers_every_caller_with_its_error() -> None:
    async def broken(items: list[int]) -> list[int | Exception]:
        raise ConnectionError("database unavailable")

    async def main() -> list[int | BaseException]:
        return await _gather(Grouper(broken, size=8, parallel=1), range(3))

    got = run_async(main())
    assert [type(g) for g in got] == [ConnectionError] * 3


def test_a_caller_that_went_away_does_not_stop_the_others() -> None:
    async def main() -> tuple[_Recorder, list[int | BaseException]]:
        run = _Recorder()
        grouper: Grouper[int, int] = Grouper(run, size=8, parallel=1)
        calls = [asyncio.ensure_future(grouper(i)) for i in (2, 4, 6)]
        await asyncio.sleep(0)
        calls[1].cancel()
        run.gate.set()
        return run, await asyncio.gather(*calls, return_exceptions=True)

    run, got = run_async(main())
    assert got[0] == 20 and got[2] == 60
    assert isinstance(got[1], asyncio.CancelledError)
    assert len(run.groups) == 1 and {2, 6} <= set(run.groups[0])


def test_sizes_below_one_are_refused() -> None:
    async def run(items: list[int]) -> list[int | Exception]:
        return list(items)

    with pytest.raises(ValueError):
        Grouper(run, size=0, parallel=1)
