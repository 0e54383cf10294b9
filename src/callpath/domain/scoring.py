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

# The call-delay prior: (share, median seconds, sigma) of log-normal components.
DELAY_PRIOR = (
    (0.80, 180.0, 1.0),
    (0.12, 1200.0, 0.35),
    (0.05, 3 * 3600.0, 1.2),
    (0.03, 36 * 3600.0, 0.6),
)
PRESENT = 3.0  # holding, and the page pinged within the last few intervals
HOLDING = 1.5  # holding, quiet (a hidden tab: the visitor may be dialling)
TAP = 30.0  # tapped or clicked the number within TAP_WINDOW before the ring
TAP_WINDOW = 900.0
HISTORY = 20.0  # the caller's earlier call was this visitor's
OTHER = 2e-7  # weight of "a caller none of the candidates" (a density, per second)
THRESHOLD = 0.8  # below this the call stays unattributed (chosen on bench/accuracy.py)


@dataclass(frozen=True, slots=True)
class Evidence:
    session_id: str
    visitor_id: str
    shown_at: float  # the hold began (the number appeared on the page)
    last_activity_at: float
    until: float
    tapped_at: float | None = None


@dataclass(frozen=True, slots=True)
class Scored:
    evidence: Evidence
    confidence: float
    held: bool
    reason: str


def delay_density(seconds: float) -> float:
    d = max(seconds, 1.0)
    total = 0.0
    for share, median, sigma in DELAY_PRIOR:
        z = (math.log(d) - math.log(median)) / sigma
        total += share * math.exp(-0.5 * z * z) / (d * sigma * math.sqrt(2 * math.pi))
    return total


def score(
    ring_at: float,
    ping_interval: float,
    candidates: Sequence[Evidence],
    history_visitor: str | None,
) -> list[Scored]:
    """Candidates best first, each with its confidence."""
    weighed = [_weigh(ring_at, ping_interval, c, history_visitor) for c in candidates]
    total = sum(w for w, _, _ in weighed) + OTHER
    scored = [
        Scored(c, w / total, held, reason)
        for c, (w, held, reason) in zip(candidates, weighed, strict=True)
    ]
    return sorted(scored, key=lambda s: -s.confidence)


def _weigh(
    ring_at: float, ping_interval: float, c: Evidence, history_visitor: str | None
) -> tuple[float, bool, str]:
    since = ring_at - c.shown_at
    weight = delay_density(since)
    held = c.shown_at <= ring_at <= c.until
    reasons = [f"shown {since:.0f} s before the call"]
    if held and ring_at - c.last_activity_at <= 3 * ping_interval:
        weight *= PRESENT
        reasons.append("on the page at ring time")
    elif held:
        weight *= HOLDING
        reasons.append("holding it, page quiet")
    else:
        reasons.append(f"released {ring_at - c.until:.0f} s before")
    if c.tapped_at is not None and 0 <= ring_at - c.tapped_at <= TAP_WINDOW:
        weight *= TAP
        reasons.append("tapped the number")
    if history_visitor is not None and c.visitor_id == history_visitor:
        weight *= HISTORY
        reasons.append("same caller as an earlier call")
    return weight, held, "; ".join(reasons)
