"""Matching: which visit (or static channel) made the phone ring (pure).

- A static number is its channel.
- A pool number: every holder of it within the site's match window is scored
  (`scoring.py`: time since it was shown, presence at ring time, a tap, the caller's
  history); the best goes if its confidence reaches the threshold — method `pool` if it
  held the number at ring time, `fallback` if its hold had ended.
- A caller who called this site before is a repeat caller, linked to the visitor of the
  earlier call; when nothing better is known that visitor gets the call
  (method `caller_history`).
- Anything else, calls to the default number included, stays unattributed (`none`),
  which reports show as "other": a wrong source is worse than none.

Every call keeps the method, the confidence and the runners-up it was chosen over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callpath.domain import scoring

CALLER_HISTORY = 0.6  # confidence in "the same caller, the same visitor" on its own
MAX_ALTERNATIVES = 3


@dataclass(frozen=True, slots=True)
class Holder:
    """One reservation of the dialled number."""

    session_id: str
    visitor_id: str
    started_at: float
    last_activity_at: float
    until: float
    tapped_at: float | None = None  # its last click on the number before the ring
    country: str | None = None  # where the visit came from (by IP)
    device: str | None = None  # mobile | tablet | desktop | bot (by user agent)


@dataclass(frozen=True, slots=True)
class EarlierCall:
    call_id: str
    started_at: float
    visitor_id: str | None
    session_id: str | None
    confidence: float = 0.0
    same_number: bool = False  # it dialled the number this call dialled


@dataclass(frozen=True, slots=True)
class Candidate:
    method: str
    confidence: float
    session_id: str | None
    visitor_id: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Match:
    method: str
    confidence: float
    session_id: str | None
    visitor_id: str | None
    repeat: bool
    first_call_id: str | None
    alternatives: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class Ring:
    """What is known about the dialled number when the call came in."""

    number_kind: str | None  # static | pool | default | None (not a tracking number)
    at: float
    match_window: float
    ping_interval: float
    policy: str = "standard"  # "naive": the holder at ring time or nobody (the reference)
    foreign_caller: str | None = None  # the caller's country, when not the site's own


def match_call(ring: Ring, holders: Sequence[Holder], earlier: Sequence[EarlierCall]) -> Match:
    """`earlier`: this caller's earlier calls to the same site, oldest first.
    The `naive` site policy is the benchmark's reference: the holder at ring time or none."""
    if ring.policy == "naive":
        return _naive(ring, holders, earlier)
    history = _history_candidate(earlier)
    if ring.number_kind == "static":
        best: Candidate | None = Candidate("static", 1.0, None, None, "static number")
        others: list[Candidate] = []
    elif ring.number_kind == "pool":
        best, others = _scored(ring, holders, history, _caller(earlier, history))
    else:
        best, others = history, []
    return _result(best, others, earlier, history)


def _caller(earlier: Sequence[EarlierCall], history: Candidate | None) -> scoring.Caller | None:
    """What the caller's earlier calls tell the scorer (None for a first-time caller)."""
    known = next((call for call in reversed(earlier) if call.visitor_id), None)
    if history is None or known is None:
        return None
    redial = next(
        (
            scoring.Redial(call.session_id, call.visitor_id, call.started_at, call.confidence)
            for call in reversed(earlier)
            if call.same_number and call.session_id and call.visitor_id
        ),
        None,
    )
    return scoring.Caller(known.visitor_id, known.confidence, redial)


def _scored(
    ring: Ring,
    holders: Sequence[Holder],
    history: Candidate | None,
    caller: scoring.Caller | None,
) -> tuple[Candidate | None, list[Candidate]]:
    """The best-scored holder if confident enough; else the caller's history; else none.
    The runners-up are kept either way."""
    evidence = [
        scoring.Evidence(
            h.session_id,
            h.visitor_id,
            h.started_at,
            h.last_activity_at,
            h.until,
            h.tapped_at,
            h.country,
            h.device,
        )
        for h in holders
        if h.until >= ring.at - ring.match_window
    ]
    scored = scoring.score(ring.at, ring.ping_interval, evidence, caller, ring.foreign_caller)
    ranked = [
        Candidate(
            "caller_history" if s.redial_only else "pool" if s.held else "fallback",
            s.confidence,
            s.evidence.session_id,
            s.evidence.visitor_id,
            s.reason,
        )
        for s in scored
    ]
    if ranked and ranked[0].confidence >= scoring.THRESHOLD:
        return ranked[0], ranked[1:]
    if history is not None:
        return history, ranked
    return None, ranked


def _result(
    best: Candidate | None,
    others: list[Candidate],
    earlier: Sequence[EarlierCall],
    history: Candidate | None,
) -> Match:
    first_call = earlier[0].call_id if earlier else None
    if best is None:
        alternatives = tuple(others[:MAX_ALTERNATIVES])
        return Match("none", 0.0, None, None, bool(earlier), first_call, alternatives)
    visitor = best.visitor_id or (history.visitor_id if history else None)
    return Match(
        method=best.method,
        confidence=round(best.confidence, 3),
        session_id=best.session_id,
        visitor_id=visitor,
        repeat=bool(earlier),
        first_call_id=first_call,
        alternatives=tuple(others[:MAX_ALTERNATIVES]),
    )


def _history_candidate(earlier: Sequence[EarlierCall]) -> Candidate | None:
    for call in reversed(earlier):
        if call.visitor_id:
            return Candidate(
                "caller_history",
                CALLER_HISTORY,
                call.session_id,
                call.visitor_id,
                f"same caller as call {call.call_id}",
            )
    return None


def _naive(ring: Ring, holders: Sequence[Holder], earlier: Sequence[EarlierCall]) -> Match:
    """The benchmark's reference: the current holder, fully trusted, or nobody."""
    first_call = earlier[0].call_id if earlier else None
    if ring.number_kind == "static":
        return Match("static", 1.0, None, None, bool(earlier), first_call, ())
    held = [h for h in holders if h.started_at <= ring.at <= h.until]
    if ring.number_kind != "pool" or not held:
        return Match("none", 0.0, None, None, bool(earlier), first_call, ())
    h = max(held, key=lambda x: x.started_at)
    return Match("pool", 1.0, h.session_id, h.visitor_id, bool(earlier), first_call, ())


# Visit codes ---------------------------------------------------------------------------
# An operator or a CRM entered the code the visitor read out from the page: that names the
# visit outright, whatever the dialled number suggests. Applied after `match_call`.


def by_visit_code(code: str, session_id: str, visitor_id: str, found: Match) -> Match:
    """The visit named by an entered code gets the call (method `visit_code`, confidence
    1.0); what `match_call` had found without the code stays among the runners-up."""
    before = Candidate(
        found.method, found.confidence, found.session_id, found.visitor_id, "without the code"
    )
    others = [before] if found.method != "none" and found.session_id != session_id else []
    others += [c for c in found.alternatives if c.session_id != session_id]
    return Match(
        method="visit_code",
        confidence=1.0,
        session_id=session_id,
        visitor_id=visitor_id,
        repeat=found.repeat,
        first_call_id=found.first_call_id,
        alternatives=tuple(others[:MAX_ALTERNATIVES]),
    )
