"""Call events and how they fold into one call (pure).

A call is never updated field by field from whatever arrived last: it is recomputed from
the set of its events, so the order in which a PBX delivers them (or redelivers them)
cannot change the result. The rules:

- state only moves forward: started < answered < ended (`recording` adds a link only);
- caller, called number and recording fill once (the earliest event that has them wins);
- the earliest answer and the latest end count;
- an `ended` with talk time and no `answered` means the call was answered;
- without a stated status an ended call is answered if it was answered, else missed;
- a `visit_code` event (entered by an operator or a CRM, never sent by a PBX) changes no
  time or state; the last one entered names the visit (`CallFacts.visit`);
- a call is outbound (the business calling a customer: `caller` is the business's line,
  `called` the customer) if any of its events says so; otherwise inbound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from callpath.domain.visit_code import KIND as VISIT_CODE
from callpath.domain.visit_code import VisitClaim

EVENT_KINDS = ("started", "answered", "ended", "recording")  # what telephony may send
STATUSES = ("answered", "missed", "busy", "failed")
# Call times taken from outside (webhooks, traces): 2000-01-01 .. 2100-01-01 UTC. Anything
# else is a sender's bug (milliseconds sent as seconds, a mistyped year), not a call.
EARLIEST, LATEST = 946_684_800.0, 4_102_444_800.0
_RANK = {"started": 1, "answered": 2, "ended": 3, "recording": 0, VISIT_CODE: 0}
_NO_TIME = ("recording", VISIT_CODE)  # events whose time says nothing of the call's
STATES = ("started", "answered", "ended")
DIRECTIONS = ("inbound", "outbound")


@dataclass(frozen=True, slots=True)
class CallEvent:
    kind: str
    call_id: str
    at: float
    caller: str | None = None
    called: str | None = None
    duration: float | None = None
    talk: float | None = None
    status: str | None = None
    recording_url: str | None = None
    visit: VisitClaim | None = None  # a visit_code event's resolved code
    direction: str | None = None  # "outbound": the business calls; None: not said


@dataclass(frozen=True, slots=True)
class CallFacts:
    """What the events say about a call, whatever order they came in."""

    state: str
    status: str | None
    caller: str | None
    called: str | None
    started_at: float
    answered_at: float | None
    ended_at: float | None
    duration: float | None
    talk: float | None
    wait: float | None
    recording_url: str | None
    visit: VisitClaim | None = None  # the visit named by the last visit code entered
    direction: str = "inbound"


def call_key(integration_id: str, provider_call_id: str) -> str:
    """Our id of a call: the same for every delivery, computable without the database."""
    digest = hashlib.sha256(f"{integration_id}\x00{provider_call_id}".encode()).hexdigest()
    return "c" + digest[:20]


def is_call_key(text: str) -> bool:
    """Whether `text` has the shape of an id `call_key` makes (ids from URLs are hostile)."""
    return len(text) == 21 and text[0] == "c" and all(ch in "0123456789abcdef" for ch in text[1:])


def fold(events: Iterable[CallEvent]) -> CallFacts:
    ordered = sorted(events, key=lambda e: (e.at, _RANK[e.kind], repr(e)))
    if not ordered:
        raise ValueError("a call needs at least one event")
    ends = [e for e in ordered if e.kind == "ended"]
    last_end = ends[-1] if ends else None
    started_at = _started_at(ordered)
    answered_at = _answered_at(ordered, last_end)
    ended_at = last_end.at if last_end else None
    rank = max(_RANK[e.kind] for e in ordered)
    state = STATES[max(rank, 1) - 1]
    return CallFacts(
        state=state,
        status=_status(last_end, answered_at),
        caller=_first(e.caller for e in ordered),
        called=_first(e.called for e in ordered),
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        duration=_duration(last_end, started_at),
        talk=_talk(last_end, answered_at),
        wait=_wait(started_at, answered_at, ended_at),
        recording_url=_first(e.recording_url for e in ordered),
        visit=_visit(ordered),
        direction="outbound" if any(e.direction == "outbound" for e in ordered) else "inbound",
    )


def _first(values: Iterable[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _visit(ordered: list[CallEvent]) -> VisitClaim | None:
    """Entries are sorted by when they were made: the last one counts."""
    claims = [e.visit for e in ordered if e.kind == VISIT_CODE and e.visit]
    return claims[-1] if claims else None


def _started_at(ordered: list[CallEvent]) -> float:
    starts = [e.at for e in ordered if e.kind == "started"]
    if starts:
        return min(starts)
    implied = [e.at - e.duration for e in ordered if e.kind == "ended" and e.duration]
    return min([e.at for e in ordered if e.kind not in _NO_TIME] + implied or [ordered[0].at])


def _answered_at(ordered: list[CallEvent], last_end: CallEvent | None) -> float | None:
    answers = [e.at for e in ordered if e.kind == "answered"]
    if answers:
        return min(answers)
    if last_end and last_end.talk:
        return last_end.at - last_end.talk
    return None


def _status(last_end: CallEvent | None, answered_at: float | None) -> str | None:
    if last_end is None:
        return None
    if last_end.status:
        if last_end.status != "answered" and last_end.talk:
            return "answered"  # talk time is proof the call was answered
        return last_end.status
    return "answered" if answered_at is not None else "missed"


def _duration(last_end: CallEvent | None, started_at: float) -> float | None:
    if last_end is None:
        return None
    if last_end.duration is not None:
        return last_end.duration
    return max(0.0, last_end.at - started_at)


def _talk(last_end: CallEvent | None, answered_at: float | None) -> float | None:
    if last_end is None:
        return None
    if last_end.talk is not None:
        return last_end.talk
    return max(0.0, last_end.at - answered_at) if answered_at is not None else 0.0


def _wait(started_at: float, answered_at: float | None, ended_at: float | None) -> float | None:
    until = answered_at if answered_at is not None else ended_at
    return None if until is None else max(0.0, until - started_at)


def plausible_time(moment: float) -> bool:
    """A call time (Unix seconds) within `EARLIEST` .. `LATEST`."""
    return EARLIEST <= moment <= LATEST
