"""Accuracy against pool size from replays, and the search for the smallest good size.

Each point replays the whole trace through the product (`sim.replay`) with that many pool
numbers. The search doubles (or halves) the size from a starting guess until the target
is bracketed, then bisects; accuracy is taken to grow with the pool, and the number of
replays is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from callpath.sim import replay
from callpath.sim.score import CallResult
from callpath.sim.trace import Event, Header

LATE = 1_800.0  # calls later than this after their session's start are "late"
MAX_REPLAYS = 10
Progress = Callable[[int, int, int], None]  # (pool size, events done, events in the trace)


@dataclass(frozen=True, slots=True)
class Point:
    size: int
    calls: int
    calls_30: int  # calls within 30 minutes of their session's start
    correct_30: float  # share of those attributed to the right session
    correct: float  # share of all calls attributed to the right session
    precision: float  # right among attributed
    seconds: float

    def as_json(self) -> dict[str, float | int]:
        return asdict(self)


def point(size: int, results: Sequence[CallResult], seconds: float) -> Point:
    soon = [r for r in results if r.delay < LATE]
    attributed = [r for r in results if r.attributed]
    return Point(
        size=size,
        calls=len(results),
        calls_30=len(soon),
        correct_30=_share(sum(r.correct for r in soon), len(soon)),
        correct=_share(sum(r.correct for r in results), len(results)),
        precision=_share(sum(r.correct for r in attributed), len(attributed)),
        seconds=seconds,
    )


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def replayer(
    header: Header, events: Sequence[Event], policy: replay.Policy, progress: Progress | None
) -> Callable[[int], Point]:
    """Measure one pool size by a replay of the trace."""

    def measure(size: int) -> Point:
        done = 0

        def step(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(size, done, len(events))

        began = time.perf_counter()
        results = replay.replay(header, events, size, policy, progress=step)
        if progress is not None:
            progress(size, len(events), len(events))
        return point(size, results, time.perf_counter() - began)

    return measure


def good(p: Point, target: float) -> bool:
    return p.calls_30 > 0 and p.correct_30 >= target


def search(
    measure: Callable[[int], Point],
    target: float,
    start: int,
    limit: int,
    budget: int = MAX_REPLAYS,
) -> list[Point]:
    """Points measured (sorted by size) while looking for the smallest good size ≤ limit."""
    seen: dict[int, Point] = {}

    def ok(size: int) -> bool:
        if size not in seen:
            seen[size] = measure(size)
        return good(seen[size], target)

    low, high = _bracket(ok, max(1, min(start, limit)), limit, lambda: len(seen) < budget)
    while high is not None and high - low > 1 and len(seen) < budget:
        middle = (low + high) // 2
        low, high = (low, middle) if ok(middle) else (middle, high)
    return [seen[size] for size in sorted(seen)]


def _bracket(
    ok: Callable[[int], bool], size: int, limit: int, more: Callable[[], bool]
) -> tuple[int, int | None]:
    """(largest size known bad or 0, smallest size known good or None)."""
    if ok(size):
        while size > 1 and more():
            if not ok(size // 2):
                return size // 2, size
            size //= 2
        return (0 if size == 1 else size // 2), size
    while size < limit and more():
        bigger = min(limit, size * 2)
        if ok(bigger):
            return size, bigger
        size = bigger
    return size, None


def recommend(points: Sequence[Point], target: float) -> int | None:
    """The smallest measured size that met the target."""
    return min((p.size for p in points if good(p, target)), default=None)


def measure_sizes(measure: Callable[[int], Point], sizes: Sequence[int]) -> list[Point]:
    """Points for the sizes asked for (no search)."""
    return [measure(size) for size in sorted(set(sizes))]
