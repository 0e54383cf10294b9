"""Allocation policy v1: who may take which pool number, and for how long.

The storage layer runs these rules inside one locked transaction (see
`storage/pool_repo.py`); this module states them without any database so they can be
read, tested and explained on their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Per-site hold rules. Times are seconds."""

    ping_interval: int = 30
    hold_after_leave: int = 900
    cooldown: int = 60
    session_timeout: int = 1800

    def __post_init__(self) -> None:
        checks = (
            (5 <= self.ping_interval <= 600, "ping_interval must be 5..600 s"),
            (60 <= self.hold_after_leave <= 86_400, "hold_after_leave must be 60..86400 s"),
            (0 <= self.cooldown <= 86_400, "cooldown must be 0..86400 s"),
            (300 <= self.session_timeout <= 86_400, "session_timeout must be 300..86400 s"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def hold_until(self, activity_at: float) -> float:
        """A hold lives `hold_after_leave` past the last sign of life (start, ping, click).

        While the page is visible the tracker pings every `ping_interval`, which keeps
        pushing this forward; once pings stop (tab closed, or hidden so the visitor can
        dial) the number stays with the visitor for `hold_after_leave`.
        """
        return activity_at + max(self.hold_after_leave, 2 * self.ping_interval)


@dataclass(frozen=True, slots=True)
class NumberState:
    """What allocation needs to know about one pool number."""

    number_id: int
    held_visitor: str | None
    held_until: float | None


def available_to(state: NumberState, visitor: str, now: float, pool: PoolSettings) -> bool:
    """May `visitor` take this number now?

    Its own last number comes back as soon as the hold lapsed (or is still its own);
    anybody else waits out the cooldown after the previous hold ended.
    """
    if state.held_until is None:
        return True
    if state.held_visitor == visitor:
        return True
    return state.held_until + pool.cooldown <= now


def preference(state: NumberState, visitor: str) -> tuple[int, float]:
    """Sort key: the visitor's own number first, then the number idle longest."""
    own = 0 if state.held_visitor == visitor else 1
    return own, state.held_until or 0.0
