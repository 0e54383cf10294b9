"""What the outbox sends and when it tries again: event types, the retry schedule, when a
delivery is given up and when a destination is paused for failing. Pure rules."""

from __future__ import annotations

import random
from collections.abc import Iterable

EVENT_TYPES = (
    "call.started",
    "call.ended",
    "call.matched",
    "lead.created",
    "lead.classified",
    "deal.updated",
)
FIRST_RETRY = 30.0  # seconds after the first failure
MAX_RETRY = 3_600.0  # never wait longer than an hour between attempts
GIVE_UP_AFTER = 48 * 3_600.0  # a delivery is retried for two days, then failed
# A destination that failed every attempt for a day, at least this many times, is paused
# (its events keep queueing; resuming it delivers them).
PAUSE_AFTER_SECONDS = 24 * 3_600.0
PAUSE_AFTER_FAILURES = 20
PAUSED_BY_FAILURES = "failing"
PAUSED_BY_USER = "paused"


class BadEvents(ValueError):
    pass


def event_list(text: str | Iterable[str]) -> tuple[str, ...]:
    """The event types named (comma-separated or a list), checked, in canonical order;
    `*` or `all` means every type."""
    names = text.split(",") if isinstance(text, str) else list(text)
    wanted = {n.strip().lower() for n in names if n.strip()}
    if wanted & {"*", "all"}:
        return EVENT_TYPES
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown:
        raise BadEvents(
            f"unknown event {unknown[0][:40]!r}; known: " + ", ".join(EVENT_TYPES) + " (or all)"
        )
    if not wanted:
        raise BadEvents("events: name at least one of " + ", ".join(EVENT_TYPES))
    return tuple(t for t in EVENT_TYPES if t in wanted)


def subscribed(events: str, event_type: str) -> bool:
    """Whether a destination's stored event list takes `event_type`."""
    return event_type in events.split(",")


def retry_delay(
    attempts: int,
    retry_after: float | None = None,
    jitter: float = 0.1,
    first: float = FIRST_RETRY,
) -> float:
    """Seconds to wait after `attempts` failed attempts (1 → 30 s, doubling, at most an
    hour; `first` replaces the 30 s), with up to ±`jitter` spread so a receiver coming
    back is not hit all at once. A receiver's own `Retry-After` is honoured when it asks
    for longer (up to an hour)."""
    base = min(first * 2.0 ** max(attempts - 1, 0), MAX_RETRY)
    base *= 1 + random.uniform(-jitter, jitter)
    if retry_after is not None and retry_after > base:
        return float(min(retry_after, MAX_RETRY))
    return base


def gives_up(created_at: float, now: float) -> bool:
    return now - created_at >= GIVE_UP_AFTER


def should_pause(failing_since: float | None, failures: int, now: float) -> bool:
    return (
        failing_since is not None
        and failures >= PAUSE_AFTER_FAILURES
        and now - failing_since >= PAUSE_AFTER_SECONDS
    )


def retryable(status: int | None) -> bool:
    """No answer, a timeout (408), a rate limit (429) or a server error: try again. Any
    other 4xx is the receiver refusing this request; sending it again changes nothing."""
    return status is None or status in (408, 409, 425, 429) or status >= 500
