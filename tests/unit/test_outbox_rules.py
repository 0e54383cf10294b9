"""The outbox's pure rules: event lists, the retry schedule, giving up, pausing."""

from __future__ import annotations

import pytest

from callpath.domain import outbox as rules


def test_event_lists_are_checked_and_put_in_order() -> None:
    assert rules.event_list("deal.updated, call.started") == ("call.started", "deal.updated")
    assert rules.event_list("all") == rules.EVENT_TYPES
    assert rules.event_list(["*"]) == rules.EVENT_TYPES
    with pytest.raises(rules.BadEvents, match=r"call\.exploded"):
        rules.event_list("call.ended,call.exploded")
    with pytest.raises(rules.BadEvents, match="at least one"):
        rules.event_list(" , ")
    assert rules.subscribed("call.started,deal.updated", "deal.updated")
    assert not rules.subscribed("call.started,deal.updated", "call.ended")


def test_retries_double_from_the_first_wait_up_to_an_hour() -> None:
    waits = [rules.retry_delay(n, jitter=0.0) for n in range(1, 10)]
    assert waits[:4] == [30.0, 60.0, 120.0, 240.0]
    assert waits[-1] == rules.MAX_RETRY
    assert rules.retry_delay(1, jitter=0.0, first=0.5) == 0.5
    assert rules.retry_delay(1, retry_after=600.0, jitter=0.0) == 600.0  # the receiver asks
    assert rules.retry_delay(1, retry_after=10**6, jitter=0.0) == rules.MAX_RETRY
    spread = {rules.retry_delay(3) for _ in range(50)}
    assert len(spread) > 1 and all(108 <= w <= 132 for w in spread)


def test_retrying_lasts_at_least_a_day_before_giving_up() -> None:
    assert not rules.gives_up(0.0, 24 * 3600.0)
    assert rules.gives_up(0.0, rules.GIVE_UP_AFTER)
    total, attempts = 0.0, 0
    while not rules.gives_up(0.0, total):
        attempts += 1
        total += rules.retry_delay(attempts, jitter=0.0)
    assert attempts >= 24  # hourly at the end: many chances while a receiver is away


def test_only_a_long_streak_of_failures_pauses_a_destination() -> None:
    day = rules.PAUSE_AFTER_SECONDS
    assert not rules.should_pause(None, 100, day * 10)
    assert not rules.should_pause(0.0, rules.PAUSE_AFTER_FAILURES, day - 1)
    assert not rules.should_pause(0.0, rules.PAUSE_AFTER_FAILURES - 1, day * 2)
    assert rules.should_pause(0.0, rules.PAUSE_AFTER_FAILURES, day)


@pytest.mark.parametrize(
    ("status", "again"),
    [(None, True), (500, True), (503, True), (429, True), (408, True), (400, False),
     (401, False), (404, False), (410, False)],
)  # fmt: skip
def test_what_is_tried_again(status: int | None, again: bool) -> None:
    assert rules.retryable(status) is again
