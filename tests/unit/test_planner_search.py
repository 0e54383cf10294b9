"""The pool-size search: doubling or halving to bracket the target, then bisection."""

from __future__ import annotations

from collections.abc import Callable

from callpath.planner.plan import Point, point, recommend, search
from callpath.sim.score import CallResult


def _curve(needed: int, ceiling: float = 1.0) -> tuple[Callable[[int], Point], list[int]]:
    """A pool whose correct share grows linearly up to `needed` numbers: a stand-in for the
    replay, recording which sizes were measured."""
    asked: list[int] = []

    def measure(size: int) -> Point:
        asked.append(size)
        share = min(ceiling, size / needed)
        return Point(size, 40, 30, share, share, 1.0, 0.0)

    return measure, asked


def test_doubling_then_bisection_finds_the_smallest_good_size() -> None:
    measure, asked = _curve(needed=10)
    points = search(measure, 0.95, start=3, limit=64)
    assert recommend(points, 0.95) == 10
    assert asked[:3] == [3, 6, 12]  # doubled until good, then bisected
    assert len(asked) == len(set(asked)) <= 10
    assert [p.size for p in points] == sorted(asked)


def test_a_generous_start_halves_down() -> None:
    measure, asked = _curve(needed=10)
    points = search(measure, 0.95, start=40, limit=64)
    assert recommend(points, 0.95) == 10
    assert asked[:3] == [40, 20, 10]


def test_one_number_may_be_enough() -> None:
    measure, asked = _curve(needed=1)
    assert recommend(search(measure, 0.95, start=4, limit=64), 0.95) == 1
    assert asked == [4, 2, 1]


def test_an_unreachable_target_stops_at_the_limit() -> None:
    measure, asked = _curve(needed=5, ceiling=0.9)
    points = search(measure, 0.95, start=1, limit=20)
    assert recommend(points, 0.95) is None
    assert asked == [1, 2, 4, 8, 16, 20]


def test_the_number_of_replays_is_bounded() -> None:
    measure, asked = _curve(needed=900)
    search(measure, 0.99, start=1, limit=4096, budget=6)
    assert len(asked) == 6


def _call(delay: float, truth: str, predicted: str | None) -> CallResult:
    result = CallResult("c", truth, "v", "o", predicted, None, 1.0, "pool", delay, True, False)
    result.predicted = predicted
    return result


def test_a_point_scores_calls_within_30_minutes_apart() -> None:
    results = [
        _call(60, "s1", "s1"),
        _call(600, "s2", "s9"),  # wrong
        _call(1_000, "s3", None),  # unattributed
        _call(1_799, "s4", "s4"),
        _call(7_200, "s5", "s5"),  # late
    ]
    p = point(4, results, 1.5)
    assert (p.size, p.calls, p.calls_30) == (4, 5, 4)
    assert p.correct_30 == 0.5
    assert p.correct == 0.6
    assert p.precision == 0.75
