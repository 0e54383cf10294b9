"""A site's recorded sessions as a trace (docs/benchmark.md), with calls drawn over them.

Each human session becomes its pageviews (the first with its landing URL, referrer and
user agent), its `tel:` clicks as `tap`, and a `close` at its last sign of life (the
leave beacon or the last ping). Bots and sessions on channels the site keeps its own
number for never take pool numbers and are left out. Hidden spells are not recorded, so
the replay keeps a tab visible until its close. Calls come from `overlay.draw_calls`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpath.domain.erlang import Visit
from callpath.planner.overlay import Human, draw_calls
from callpath.sim.trace import Event, Header

Row = dict[str, Any]
_RANK = {"pageview": 0, "tap": 1, "call": 2, "close": 3}  # order of events at one time


@dataclass(frozen=True, slots=True)
class Recorded:
    header: Header
    events: list[Event]  # sorted by time, drawn calls included
    visits: list[Visit]  # the same sessions, in epoch seconds (for the Erlang estimate)
    calls: int
    begin: float  # epoch seconds: the trace start
    end: float  # epoch seconds: now

    @property
    def sessions(self) -> int:
        return len(self.visits)


def to_trace(
    sessions: Sequence[Row],
    pages: Iterable[Row],
    taps: Iterable[Row],
    *,
    begin: float,
    end: float,
    site: str,
    timezone: str,
    seed: int,
) -> Recorded:
    """The trace of `sessions` (rows of `plan_repo.recorded_sessions`) from `begin` on."""
    base = float(int(begin))
    by_session: dict[str, list[Row]] = {}
    for p in pages:
        by_session.setdefault(p["session_id"], []).append(p)
    tapped: dict[str, list[float]] = {}
    for t in taps:
        tapped.setdefault(t["session_id"], []).append(float(t["at"]))
    ids = {row["id"]: f"s{i}" for i, row in enumerate(sessions, start=1)}
    visitors: dict[str, str] = {}
    events: list[Event] = []
    humans: list[Human] = []
    for row in sessions:
        seen = row["visitor_id"] in visitors
        visitor = visitors.setdefault(row["visitor_id"], f"v{len(visitors) + 1}")
        own_taps = tapped.get(row["id"], [])
        last = _last_sign(row, by_session.get(row["id"], []), own_taps)
        session = _Session(ids[row["id"]], visitor, base)
        events.extend(session.pages(row, by_session.get(row["id"], [])))
        events.extend(session.event(at, "tap") for at in own_taps)
        events.append(session.event(last, "close"))
        device = str(row["device"] or "desktop")
        humans.append(
            Human(session.id, visitor, device, row["started_at"] - base, last - base, seen)
        )
    calls = draw_calls(humans, end - base, base, ZoneInfo(timezone), seed)
    events.extend(calls)
    events.sort(key=lambda e: (e.t, _RANK[e.type]))
    iso = datetime.fromtimestamp(base, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    visits = [Visit(h.start + base, h.end + base) for h in humans]
    return Recorded(Header(iso, timezone, site), events, visits, len(calls), base, end)


def _last_sign(row: Row, pages: Sequence[Row], taps: Sequence[float]) -> float:
    """The session's last sign of life: a page, a ping, a click or the leave beacon."""
    times = [row["started_at"], row["last_seen_at"], row["left_at"] or 0.0, *taps]
    times.extend(p["at"] for p in pages)
    return float(max(times))


@dataclass(frozen=True, slots=True)
class _Session:
    id: str
    visitor: str
    base: float

    def event(self, at: float, kind: str) -> Event:
        return Event(max(0.0, at - self.base), kind, self.id)

    def pages(self, row: Row, pages: Sequence[Row]) -> list[Event]:
        """The first page is the landing (with its tags and referrer); then the others."""
        first = Event(
            max(0.0, row["started_at"] - self.base),
            "pageview",
            self.id,
            visitor=self.visitor,
            url=row["landing_url"],
            referrer=row["referrer"],
            ua=row["user_agent"],
        )
        later = [p for p in pages if p["at"] > row["started_at"]]
        rest = [
            Event(p["at"] - self.base, "pageview", self.id, visitor=self.visitor, url=p["url"])
            for p in later
        ]
        return [first, *rest]
