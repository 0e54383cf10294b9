"""The M/G/∞ (Erlang) estimate: Poisson tails, the smallest N, the peak hour, the load."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

import pytest

from callpath.domain.erlang import (
    Visit,
    estimate,
    numbers_needed,
    peak_hour_arrivals,
    poisson_tail,
    window_begin,
)
from callpath.domain.pool import PoolSettings

UTC = ZoneInfo("UTC")
DAY = 86_400.0


def test_poisson_tail_known_values() -> None:
    assert poisson_tail(1.0, 2) == pytest.approx(1 - math.exp(-1) * 2.5)  # ≈ 0.0803
    assert poisson_tail(1.0, 2) == pytest.approx(0.0803, abs=1e-4)
    assert poisson_tail(1.0, 0) == pytest.approx(1 - math.exp(-1))
    assert poisson_tail(0.0, 0) == 0.0
    assert poisson_tail(3.0, -1) == 1.0


def test_poisson_tail_of_a_large_load_does_not_underflow() -> None:
    # Poisson(10 000) is close to a normal of sd 100: two sd above the mean leaves ~2.3%.
    assert poisson_tail(10_000.0, 10_200) == pytest.approx(0.0228, abs=0.003)


def test_numbers_needed_is_the_smallest_n_within_the_target() -> None:
    assert numbers_needed(1.0, 0.95) == 3  # P(X>2) ≈ 0.080 > 0.05, P(X>3) ≈ 0.019
    assert numbers_needed(1.0, 0.90) == 2
    assert numbers_needed(0.0, 0.95) == 0
    for load, target in ((7.3, 0.95), (250.0, 0.99), (5_000.0, 0.999)):
        n = numbers_needed(load, target)
        assert poisson_tail(load, n) <= 1 - target < poisson_tail(load, n - 1)


@pytest.mark.parametrize("target", [0.0, 1.0, -0.5, 2.0])
def test_numbers_needed_refuses_a_target_outside_0_1(target: float) -> None:
    with pytest.raises(ValueError):
        numbers_needed(1.0, target)


def test_peak_hour_is_the_busiest_hour_of_an_average_day() -> None:
    starts = []
    for day in range(2):  # 3 arrivals at 10:xx each day, 1 at every other hour
        starts += [day * DAY + 10 * 3600 + 60 * i for i in range(3)]
        starts += [day * DAY + h * 3600 + 30 for h in range(24) if h != 10]
    assert peak_hour_arrivals(starts, 0.0, 2 * DAY, UTC) == pytest.approx(3.0)


def test_peak_hour_counts_a_partly_covered_hour_by_its_share() -> None:
    # 30 minutes of the 10:00 hour seen, 4 arrivals in them: 8 an hour.
    starts = [10 * 3600 + 60.0 * i for i in range(4)]
    assert peak_hour_arrivals(starts, 10 * 3600, 10.5 * 3600, UTC) == pytest.approx(8.0)


def test_a_sliver_of_an_hour_does_not_set_the_peak() -> None:
    # 10:00-12:30 seen: one arrival in each whole hour, one in 12:00-12:30. The half hour
    # would read as 2 an hour; only whole hours count when there are any.
    starts = [10 * 3600 + 60.0, 11 * 3600 + 60.0, 12 * 3600 + 60.0]
    assert peak_hour_arrivals(starts, 10 * 3600, 12.5 * 3600, UTC) == pytest.approx(1.0)


def test_a_new_sites_window_begins_when_it_was_created() -> None:
    """A site created two hours ago whose first visit came five minutes ago sees one
    visit in two hours, not one in five minutes."""
    now = 5 * DAY
    created, first = now - 2 * 3600, now - 300
    begin = window_begin(now - 7 * DAY, created, first)
    assert begin == created
    assert peak_hour_arrivals([first], begin, now, UTC) <= 1.0
    assert window_begin(now - 7 * DAY, now - 30 * DAY, first) == now - 7 * DAY
    assert window_begin(now - 7 * DAY, now, now - DAY) == now - DAY  # data older than the row


def test_peak_hour_is_local_time() -> None:
    moscow = ZoneInfo("Europe/Moscow")  # UTC+3: 07:00 UTC is 10:00 there
    starts = [7 * 3600 + 60.0 * i for i in range(5)]
    assert peak_hour_arrivals(starts, 0.0, DAY, moscow) == pytest.approx(5.0)


def test_estimate_load_is_arrivals_times_holding() -> None:
    pool = PoolSettings(hold_after_leave=300, cooldown=60)
    visits = [Visit(10 * 3600 + 600.0 * i, 10 * 3600 + 600.0 * i + 240) for i in range(6)]
    got = estimate(visits, 0.0, DAY, UTC, pool, 0.95)
    assert got is not None
    assert got.peak_hour_arrivals == pytest.approx(6.0)
    assert got.holding == pytest.approx(240 + 300 + 60)
    assert got.load == pytest.approx(6.0 * 600 / 3600)  # 1.0
    assert got.numbers == 3
    assert estimate([], 0.0, DAY, UTC, pool, 0.95) is None
