"""Allocation policy v1: the per-site hold settings and how long a hold lives.

Who may take which number is decided in SQL, inside one locked transaction, by
`storage/pool_repo.py`: a visitor's own number first (held or lapsed), else the number
idle longest once its cooldown has passed. The service tests with a virtual clock
(tests/integration/test_allocation_policy.py) state those rules as behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

SELECTIONS = ("idle_longest", "random")
POLICIES = ("standard", "naive")


# Chosen on bench/accuracy.py (docs/configuration.md): a short hold lets the pool hand the
# number idle longest to the next visitor instead of showing the default number.
HOLD_AFTER_LEAVE = 60


@dataclass(frozen=True, slots=True)
class PoolSettings:
    """Per-site hold rules. Times are seconds."""

    ping_interval: int = 30
    hold_after_leave: int = HOLD_AFTER_LEAVE
    cooldown: int = 60
    session_timeout: int = 1800
    # "idle_longest" (the number free longest; spreads reuse) or "random" (the naive
    # reference); `sticky`: a returning visitor gets its own number back first.
    selection: str = "idle_longest"
    sticky: bool = True

    def __post_init__(self) -> None:
        checks = (
            (5 <= self.ping_interval <= 600, "ping_interval must be 5..600 s"),
            (60 <= self.hold_after_leave <= 86_400, "hold_after_leave must be 60..86400 s"),
            (0 <= self.cooldown <= 86_400, "cooldown must be 0..86400 s"),
            (300 <= self.session_timeout <= 86_400, "session_timeout must be 300..86400 s"),
            (self.selection in SELECTIONS, "selection must be idle_longest or random"),
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
