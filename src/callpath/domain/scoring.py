"""Scoring the candidates of a pool call (pure).

Every recent holder of the dialled number is a candidate. Its weight is how likely a
visitor calls this long after being shown the number (a prior from published call
delays: most within minutes, a tail hours and days later), times what its page showed at
ring time: still holding and seen within a few pings, still holding but quiet, or
released; a tap on the number shortly before, and the caller's history pointing to the
same visitor, multiply it. Confidence is the candidate's share of all the weight, an
"someone we never showed it to" term included, so a number reused often yields low
confidence and stays unattributed below the threshold rather than misattributed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# The call-delay prior: (share, median seconds, sigma) of log-normal components. The
# second is the "within half an hour" bump, spread evenly over 15-30 min (its median the
# class's geometric middle): a narrower one around 20 min left calls at 25-30 min below
# the threshold although nobody else had held the number (bench/accuracy.py).
DELAY_PRIOR = (
    (0.80, 180.0, 1.0),
    (0.12, 1270.0, 0.3),
    (0.05, 3 * 3600.0, 1.2),
    (0.03, 36 * 3600.0, 0.6),
)
QUICKEST = 10.0
# A call made from the page (the prior's first component) comes while the number is still
# held (the hold after leave covers the dialling); after the hold ended it is this rare.
RELEASED_IN_SESSION = 0.1
PRESENT = 3.0  # holding, and the page pinged within the last few intervals
HOLDING = 1.5  # holding, quiet (a hidden tab: the visitor may be dialling)
TAP = 30.0  # tapped or clicked the number within TAP_WINDOW before the ring
TAP_WINDOW = 900.0
# A phone still holding the number but without a tap on it: most calls made from a page on
# a phone start with a tap on the number (the snippet reports it), so holding without one
# is weaker evidence there. Taken from Google/Ipsos (70% of mobile searchers have called a
# business straight from the page): 70% of them tap. (0.4, i.e. 60%, until 2026-11-22.)
UNTAPPED_PHONE = 0.3
# The caller's earlier call went to this visitor: caller ids name people, so the other
# candidates explain this caller only if that attribution was wrong (1 - its confidence)
# or the same person came back on another device; HISTORY_FLOOR bounds the odds.
HISTORY_FLOOR = 0.002
# A redial: the caller dialled this number before and that call was attributed. Repeat calls
# (share of callers who call again, and when: a quick redial or a follow-up hours later),
# weighed against the share of visits that call at all.
REPEAT_SHARE = 0.10
CALL_SHARE = 0.03
REPEAT_PRIOR = ((0.7, 180.0, 0.8), (0.3, 20 * 3600.0, 1.0))
# "A caller none of the candidates explains" (someone shown the number before the window,
# a number passed on, a misdial): this share of the calls the number's traffic brings. The
# number's reuse rate (holders per second over the candidates' span) sets its scale, so a
# number that changes hands every few minutes earns less trust in any one holder.
STRAY = 0.004
MIN_SPAN = 600.0
# A caller from abroad (the number's country is not the site's) and a visit from that same
# country: rare by chance. The converse says nothing (VPNs, roaming), so it only boosts.
REGION_MATCH = 5.0
THRESHOLD = 0.8  # below this the call stays unattributed (chosen on bench/accuracy.py)


@dataclass(frozen=True, slots=True)
class Evidence:
    session_id: str
    visitor_id: str
    shown_at: float  # the hold began (the number appeared on the page)
    last_activity_at: float
    until: float
    tapped_at: float | None = None
    country: str | None = None
    device: str | None = None


@dataclass(frozen=True, slots=True)
class Redial:
    """The caller's latest earlier call to the dialled number, and whom it went to."""

    session_id: str
    visitor_id: str
    at: float
    confidence: float


@dataclass(frozen=True, slots=True)
class Caller:
    """What the caller's earlier calls say: whose visitor it was, how sure that was, and
    the latest earlier call to this same number."""

    visitor_id: str | None
    confidence: float = 0.0
    redial: Redial | None = None

    @property
    def leak(self) -> float:
        """How well someone else explains this caller id."""
        return max(1.0 - self.confidence, HISTORY_FLOOR)


@dataclass(frozen=True, slots=True)
class Scored:
    evidence: Evidence
    confidence: float
    held: bool
    reason: str
    redial_only: bool = False  # the earlier call's visit, no longer among the holders


def _mixture(prior: Sequence[tuple[float, float, float]], seconds: float) -> float:
    d = max(seconds, 1.0)
    total = 0.0
    for share, median, sigma in prior:
        z = (math.log(d) - math.log(median)) / sigma
        total += share * math.exp(-0.5 * z * z) / (d * sigma * math.sqrt(2 * math.pi))
    return total


def delay_density(seconds: float) -> float:
    """The prior's density; a call in the first seconds (a tap on a number that has just
    appeared) weighs as one `QUICKEST` seconds in, not as an impossibility."""
    return _mixture(DELAY_PRIOR, max(seconds, QUICKEST))


def released_density(seconds: float) -> float:
    """The prior for a visit whose hold had ended at ring time: the hold covers the
    dialling of a call made from the page, so its first component mostly did not happen."""
    (share, median, sigma), *later = DELAY_PRIOR
    prior = ((share * RELEASED_IN_SESSION, median, sigma), *later)
    return _mixture(prior, max(seconds, QUICKEST))


def redial_weight(seconds: float, confidence: float) -> float:
    """A redial's weight, on the same scale as `delay_density` (per visit that calls)."""
    return REPEAT_SHARE / CALL_SHARE * _mixture(REPEAT_PRIOR, seconds) * confidence


def other_weight(ring_at: float, candidates: Sequence[Evidence]) -> float:
    """The "someone else" term: STRAY times the number's reuse rate."""
    if not candidates:
        return STRAY / MIN_SPAN
    span = max(ring_at - min(c.shown_at for c in candidates), MIN_SPAN)
    return STRAY * len(candidates) / span


def score(
    ring_at: float,
    ping_interval: float,
    candidates: Sequence[Evidence],
    caller: Caller | None = None,
    foreign_caller: str | None = None,
) -> list[Scored]:
    """Candidates best first, each with its confidence. A redial whose earlier call's visit
    is no longer among the holders competes as a candidate of its own."""
    weighed = [(c, *_weigh(ring_at, ping_interval, c, caller, foreign_caller)) for c in candidates]
    lone = _lone_redial(ring_at, candidates, caller)
    if lone is not None:
        weighed.append(lone)
    total = sum(w for _, w, _, _, _ in weighed) + other_weight(ring_at, candidates)
    redialled = caller.redial.confidence if caller and caller.redial else 0.0
    scored = [
        Scored(
            c,
            _share(weight, lift, total, redialled),
            held,
            reason,
            redial_only=lone is not None and c is lone[0],
        )
        for c, weight, lift, held, reason in weighed
    ]
    return sorted(scored, key=lambda s: -s.confidence)


def _share(weight: float, lift: float, total: float, redialled: float) -> float:
    """A candidate's share of the weight. A redial inherits its earlier call's visit, and
    with it that call's doubt: the part the redial `lift`s is worth no more than the
    earlier call's confidence, unless the candidate's own evidence says more."""
    share = weight / total
    if lift <= 0.0:
        return share
    own = (weight - lift) / max(total - lift, 1e-300)
    return min(share, max(own, redialled))


def _lone_redial(
    ring_at: float, candidates: Sequence[Evidence], caller: Caller | None
) -> tuple[Evidence, float, float, bool, str] | None:
    redial = caller.redial if caller else None
    if redial is None or any(c.session_id == redial.session_id for c in candidates):
        return None
    since = ring_at - redial.at
    evidence = Evidence(redial.session_id, redial.visitor_id, redial.at, redial.at, redial.at)
    weight = redial_weight(since, redial.confidence)
    return evidence, weight, weight, False, f"redial of a call {since:.0f} s earlier"


def _weigh(
    ring_at: float,
    ping_interval: float,
    c: Evidence,
    caller: Caller | None,
    foreign_caller: str | None,
) -> tuple[float, float, bool, str]:
    """(weight, the part of it a redial adds, held at ring time, why)."""
    since = ring_at - c.shown_at
    held = c.shown_at <= ring_at <= c.until
    tapped = c.tapped_at is not None and 0 <= ring_at - c.tapped_at <= TAP_WINDOW
    weight = delay_density(since) if held or tapped else released_density(since)
    reasons = [f"shown {since:.0f} s before the call"]
    if held and ring_at - c.last_activity_at <= 3 * ping_interval:
        weight *= PRESENT
        reasons.append("on the page at ring time")
    elif held:
        weight *= HOLDING
        reasons.append("holding it, page quiet")
    else:
        reasons.append(f"released {ring_at - c.until:.0f} s before")
    if tapped:
        weight *= TAP
        reasons.append("tapped the number")
    elif held and c.device == "mobile":
        weight *= UNTAPPED_PHONE
        reasons.append("a phone that did not tap the number")
    if foreign_caller is not None and c.country == foreign_caller:
        weight *= REGION_MATCH
        reasons.append(f"visiting from the caller's country ({foreign_caller})")
    if caller is None:
        return weight, 0.0, held, "; ".join(reasons)
    lift = 0.0
    redial = caller.redial
    if redial is not None and c.session_id == redial.session_id:
        lift = redial_weight(ring_at - redial.at, redial.confidence)
        reasons.append(f"redial of a call {ring_at - redial.at:.0f} s earlier")
    if caller.visitor_id is None:
        pass
    elif c.visitor_id == caller.visitor_id:
        reasons.append("same caller as an earlier call")
    else:
        weight, lift = weight * caller.leak, lift * caller.leak
    return weight + lift, lift, held, "; ".join(reasons)
