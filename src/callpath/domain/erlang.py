"""The M/G/∞ (Erlang) estimate of a pool's size.

Sessions arrive as a Poisson stream and each holds a number for its own time (the visit,
then `hold_after_leave`, then the `cooldown` before a stranger may take it). With unlimited
numbers the count held at once is Poisson with mean A = arrival rate x mean holding time,
whatever the holding-time distribution: the pool needs the smallest N with
P(Poisson(A) > N) ≤ 1 - target.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from callpath.domain.pool import PoolSettings

HOUR = 3_600.0


@dataclass(frozen=True, slots=True)
class Visit:
    """A human session that takes a pool number: its start and its last sign of life."""

    start: float  # epoch seconds
    end: float


@dataclass(frozen=True, slots=True)
class Estimate:
    sessions: int
    peak_hour_arrivals: float  # sessions per hour in the busiest hour of an average day
    mean_visit: float  # seconds from the start to the last sign of life
    hold_after: float  # seconds a number stays held after that
    cooldown: float
    load: float  # A, numbers held at once on average in the peak hour
    target: float
    numbers: int  # the recommended N

    @property
    def holding(self) -> float:
        return self.mean_visit + self.hold_after + self.cooldown

    def as_json(self) -> dict[str, float | int]:
        return {**asdict(self), "holding": self.holding}


def poisson_tail(load: float, n: int) -> float:
    """P(X > n) for X ~ Poisson(load)."""
    if load < 0 or not math.isfinite(load):
        raise ValueError("load must be a finite number ≥ 0")
    if n < 0:
        return 1.0
    if load == 0:
        return 0.0
    cdf = sum(_pmf(load, k) for k in range(n + 1))
    return max(0.0, 1.0 - cdf)


def _pmf(load: float, k: int) -> float:
    return math.exp(k * math.log(load) - load - math.lgamma(k + 1))


def numbers_needed(load: float, target: float) -> int:
    """The smallest N with P(Poisson(load) > N) ≤ 1 - target (0 < target < 1)."""
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    if load <= 0:
        return 0
    allowed, cdf, n = 1.0 - target, 0.0, 0
    while True:
        cdf += _pmf(load, n)
        if 1.0 - cdf <= allowed:
            return n
        n += 1


def peak_hour_arrivals(starts: Sequence[float], begin: float, end: float, tz: ZoneInfo) -> float:
    """Sessions per hour in the busiest local hour of the day, averaged over the days seen.

    Each local hour's count is divided by how much of that hour of the day the window
    [begin, end) covers, so a window of a few days or a few hours is averaged fairly. Only
    hours covered for a whole hour count (a few minutes with one visit are not a rate);
    a window shorter than that gives its average rate.
    """
    counts, cover = [0] * 24, [0.0] * 24
    for start in starts:
        if begin <= start < end:
            counts[_local_hour(start, tz)] += 1
    t = begin
    while t < end:
        step = min(HOUR - (t % HOUR), end - t)
        cover[_local_hour(t, tz)] += step / HOUR
        t += step
    rates = [c / w for c, w in zip(counts, cover, strict=True) if w >= 1.0]
    if rates:
        return max(rates)
    covered = sum(cover)
    return sum(counts) / covered if covered > 0 else 0.0


def window_begin(since: float, site_created: float, first_visit: float) -> float:
    """Where the window of recorded visits begins: `since`, or later when the site is
    younger (its creation, not its first visit: the wait for that visit is traffic too;
    data recorded before the site's row, as imported data may be, still counts)."""
    return max(since, min(site_created, first_visit))


def _local_hour(moment: float, tz: ZoneInfo) -> int:
    return datetime.fromtimestamp(moment, tz).hour


def estimate(
    visits: Sequence[Visit],
    begin: float,
    end: float,
    tz: ZoneInfo,
    pool: PoolSettings,
    target: float,
) -> Estimate | None:
    """The estimate from the visits seen in [begin, end); None without any."""
    if not visits or end <= begin:
        return None
    rate = peak_hour_arrivals([v.start for v in visits], begin, end, tz)
    mean_visit = sum(max(0.0, v.end - v.start) for v in visits) / len(visits)
    hold_after = pool.hold_until(0.0)  # the hold after the last sign of life
    load = rate * (mean_visit + hold_after + pool.cooldown) / HOUR
    return Estimate(
        sessions=len(visits),
        peak_hour_arrivals=rate,
        mean_visit=mean_visit,
        hold_after=hold_after,
        cooldown=float(pool.cooldown),
        load=load,
        target=target,
        numbers=numbers_needed(load, target),
    )
