"""Calls drawn onto recorded sessions with the traffic model's call behaviour.

A recorded site's real calls cannot be scored (nobody knows which visit really made
them), so the planner lays synthetic calls over its real visits: each human session
calls with the model's probability (by device; likelier for a returning visitor), after a
delay drawn from the model's mix (most within 15 minutes, a tail hours or days later,
late ones moved out of the night), and some callers call again. The person behind a call
is the visitor; a late call belongs to their latest session by then. One seed, one draw.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from zoneinfo import ZoneInfo

from callpath.sim import call_behaviour
from callpath.sim.trace import Event

SEED = 1


@dataclass(frozen=True, slots=True)
class Human:
    """A recorded human session, in trace seconds."""

    session: str
    visitor: str
    device: str  # mobile | tablet | desktop (anything else counts as desktop)
    start: float
    end: float  # its last sign of life (the trace's `close`)
    returning: bool


@dataclass(frozen=True, slots=True)
class _Call:
    t: float
    session: str
    visitor: str


class _Draw:
    def __init__(self, humans: Sequence[Human], base: float, tz: ZoneInfo, seed: int) -> None:
        self.rng = random.Random(seed)
        self.base, self.tz = base, tz
        self.starts: dict[str, list[float]] = {}
        self.sessions: dict[str, list[str]] = {}
        for h in sorted(humans, key=attrgetter("start")):
            self.starts.setdefault(h.visitor, []).append(h.start)
            self.sessions.setdefault(h.visitor, []).append(h.session)

    def latest(self, visitor: str, t: float) -> str:
        """The visitor's session that showed them a number last before `t`."""
        index = bisect_right(self.starts[visitor], t) - 1
        return self.sessions[visitor][max(0, index)]

    def morning(self, t: float) -> float:
        """A late call that would fall at night is made after opening time instead."""
        local = datetime.fromtimestamp(self.base + t, self.tz)
        return call_behaviour.morning(self.rng, t, local)


def draw_calls(
    humans: Sequence[Human], duration: float, base: float, tz: ZoneInfo, seed: int = SEED
) -> list[Event]:
    """`call` events (sorted) for the sessions, placed before `duration`."""
    draw = _Draw(humans, base, tz, seed)
    first = [c for h in humans if (c := _first_call(draw, h)) is not None]
    calls = _repeats(draw, [c for c in first if c.t < duration], duration)
    calls.sort(key=attrgetter("t"))
    phones = _phones(draw.rng, calls)
    return [
        Event(c.t, "call", c.session, call=f"c{i}", caller=phones[c.visitor])
        for i, c in enumerate(calls, start=1)
    ]


def _first_call(draw: _Draw, h: Human) -> _Call | None:
    plan = call_behaviour.plan_call(draw.rng, h.device, h.returning)
    if plan is None:
        return None
    klass, delay = plan
    if klass == "in":  # from the page: while the recorded visit lasts
        t = h.start + min(delay, max(0.0, h.end - h.start))
    elif klass == "quarter":
        t = h.start + delay
    else:
        t = draw.morning(h.start + delay)
    return _Call(t, draw.latest(h.visitor, t), h.visitor)


def _repeats(draw: _Draw, calls: list[_Call], duration: float) -> list[_Call]:
    """Callers who call again: a quick redial, or a follow-up hours or days later."""
    callers: set[str] = set()
    queue = sorted(calls, key=attrgetter("t"))
    for call in queue:  # the loop also visits the repeats appended below
        again = call_behaviour.call_again(draw.rng, call.t, call.visitor in callers, draw.morning)
        callers.add(call.visitor)
        if again is None:
            continue
        t, same = again
        session = call.session if same else draw.latest(call.visitor, t)
        if t < duration:
            queue.append(_Call(t, session, call.visitor))
    return queue


def _phones(rng: random.Random, calls: Sequence[_Call]) -> dict[str, str]:
    """One mobile number per calling visitor, all different."""
    phones: dict[str, str] = {}
    used: set[str] = set()
    for c in calls:
        while c.visitor not in phones:
            phone = f"+79{rng.randrange(10**9):09d}"
            if phone not in used:
                used.add(phone)
                phones[c.visitor] = phone
    return phones
