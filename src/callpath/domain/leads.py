"""Leads (pure rules): what a call counts as, by the site's rules.

Every call is a lead. The rules read one caller's calls to one site in time order, so a
verdict can change when a later call arrives (a missed call is lost only if the caller
never got through afterwards), and the whole history can be classified again when a rule
changes: the verdicts are derived, the calls are not touched.

- first-time: no earlier call from the number to the site within `unique_days` (None:
  ever). A call without a caller id cannot be told apart: it counts as first-time.
- missed: over, and not answered. abandoned: missed, and over within `abandoned_seconds` (the
  caller hung up while it rang).
- lost: missed, and within `callback_minutes` neither did the caller get through (an
  answered call from the number: `recovered_after`, the delay) nor did the business call
  them back (an answered outbound call to the number: `called_back_after`).
- outbound calls (the business calling) are no leads: their verdict is all no, and they
  count for nothing but calling a missed caller back.
- spam: a blocked number, or a burst: `spam_burst_calls` calls without talk from one
  number within `spam_burst_minutes`. The score and the reason say which.
- target: answered, talk of at least `target_talk` seconds, not spam, and first-time when
  `target_first_time_only`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

MINUTE = 60.0
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class Rules:
    unique_days: int | None = None
    target_talk: int = 30
    target_first_time_only: bool = False
    abandoned_seconds: int = 5
    callback_minutes: int = 60
    spam_burst_calls: int = 3
    spam_burst_minutes: int = 10
    # Attribution (domain/attribution.py): how far back a journey reaches, and the
    # time-decay model's half-life.
    lookback_days: int = 90
    half_life_days: int = 7

    def __post_init__(self) -> None:
        limits = {
            "unique_days": (1, 3650),
            "target_talk": (0, 86_400),
            "abandoned_seconds": (0, 3600),
            "callback_minutes": (1, 10_080),
            "spam_burst_calls": (2, 1000),
            "spam_burst_minutes": (1, 1440),
            "lookback_days": (1, 365),
            "half_life_days": (1, 90),
        }
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            if value is None and name == "unique_days":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name}: a whole number {low}..{high}")
        if not isinstance(self.target_first_time_only, bool):
            raise ValueError("target_first_time_only: true or false")

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Rules:
        """A site's rules as stored (unknown keys ignored, missing ones the defaults)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (stored or {}).items() if k in known})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def reach(self) -> float:
        """How far around a call other calls of its caller can change its verdict (s)."""
        return max(self.callback_minutes, self.spam_burst_minutes) * MINUTE


@dataclass(frozen=True, slots=True)
class Call:
    id: str
    started_at: float
    ended_at: float | None
    answered: bool
    talk: float
    ended: bool = True  # a call still ringing is not missed (yet)
    outbound: bool = False  # the business calling the number


@dataclass(frozen=True, slots=True)
class Verdict:
    first_time: bool
    target: bool
    missed: bool
    abandoned: bool
    lost: bool
    recovered_after: float | None
    spam: bool
    spam_score: float
    spam_reason: str | None
    called_back_after: float | None = None


NOT_A_LEAD = Verdict(False, False, False, False, False, None, False, 0.0, None)


def classify(
    calls: Sequence[Call],
    rules: Rules,
    *,
    known_caller: bool,
    blocked: bool = False,
    last_before: float | None = None,
) -> list[Verdict]:
    """Verdicts of one caller's calls to one site, given in time order. `last_before`:
    the caller's latest call before the first of `calls` (None: none); `known_caller`
    False for calls without a caller id (each judged alone)."""
    verdicts = []
    previous = last_before
    for i, call in enumerate(calls):
        if call.outbound:
            verdicts.append(NOT_A_LEAD)
            continue
        first = not known_caller or _first_time(call.started_at, previous, rules)
        missed = call.ended and not call.answered
        abandoned = missed and _short(call, rules)
        through, back = _recovered(calls, i, rules) if missed and known_caller else (None, None)
        score, reason = _spam(calls, i, rules, blocked) if known_caller else (0.0, None)
        spam = score >= 1.0
        target = (
            call.answered
            and call.talk >= rules.target_talk
            and not spam
            and (first or not rules.target_first_time_only)
        )
        lost = missed and through is None and back is None and not spam
        verdicts.append(
            Verdict(first, target, missed, abandoned, lost, through, spam, score, reason, back)
        )
        previous = call.started_at
    return verdicts


def _first_time(started_at: float, previous: float | None, rules: Rules) -> bool:
    if previous is None:
        return True
    if rules.unique_days is None:
        return False
    return started_at - previous > rules.unique_days * DAY


def _short(call: Call, rules: Rules) -> bool:
    return call.ended_at is not None and call.ended_at - call.started_at <= rules.abandoned_seconds


def _recovered(calls: Sequence[Call], i: int, rules: Rules) -> tuple[float | None, float | None]:
    """After missed call `i`, within the window: the delay until the caller got through,
    and until the business called them back (None: did not)."""
    start = calls[i].started_at
    through: float | None = None
    back: float | None = None
    for later in calls[i + 1 :]:
        delay = later.started_at - start
        if delay > rules.callback_minutes * MINUTE:
            break
        if later.answered and later.outbound and back is None:
            back = delay
        elif later.answered and not later.outbound and through is None:
            through = delay
    return through, back


def _spam(calls: Sequence[Call], i: int, rules: Rules, blocked: bool) -> tuple[float, str | None]:
    if blocked:
        return 1.0, "the number is on the account's block list"
    if calls[i].talk > 0 or calls[i].outbound:
        return 0.0, None
    window = rules.spam_burst_minutes * MINUTE
    t = calls[i].started_at
    near = [c for c in calls if c.talk <= 0 and not c.outbound and abs(c.started_at - t) <= window]
    # The largest run of silent calls within one window that holds this call.
    best = max(
        sum(1 for c in near if a.started_at <= c.started_at <= a.started_at + window)
        for a in near
        if a.started_at <= t <= a.started_at + window
    )
    score = min(1.0, best / rules.spam_burst_calls)
    if best < 2:
        return 0.0, None
    reason = f"{best} calls without talk within {rules.spam_burst_minutes} min"
    return score, reason
