"""Visit codes (pure rules): the short number a visitor reads out when the pool is empty.

When no pool number is free the visitor sees the site's default number and a visit code
("code 4821"). An operator or a CRM that enters the code on a call names the visit outright.

- A code is 4 digits and never starts with 0 (a spreadsheet or a CRM field would turn
  "0482" into "482"). It is drawn at random among the codes that no other session of the
  site showed within `LIFETIME`; after a few collisions the draws get 5, then 6 digits, so
  a crowded site gets longer codes rather than shared ones.
- A session keeps its code while it shows signs of life and for `LIFETIME` after the last
  one; a session silent for longer gets a new code when it returns (its old one may have
  gone to someone else meanwhile).
- Entered on a call, a code names the session of the call's site that showed it, seen
  within `LIFETIME` before the ring. A session that started after the ring (within
  `SKEW`, for clocks that disagree) counts only when no earlier one has the code.
- A code attributes a call the operator already has; it opens nothing to whoever guesses
  it, so it needs to be unique, not secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

KIND = "visit_code"  # the call event an entry is stored as
LIFETIME = 48 * 3600.0  # seconds after the session's last sign of life
SKEW = 120.0  # seconds a session may seem to start after the ring
DRAWS = (4, 4, 4, 5, 5, 5, 6, 6, 6, 6)  # code lengths tried in turn
MAX_INPUT = 40  # longer input is not a code, whatever it holds
_CODE = re.compile(r"[1-9][0-9]{3,5}", re.ASCII)
_AROUND = re.compile(r"[\s#.:()-]+")


@dataclass(frozen=True, slots=True)
class VisitClaim:
    """An entered code, resolved to the session that showed it."""

    code: str
    session_id: str
    visitor_id: str


@dataclass(frozen=True, slots=True)
class CodeHolder:
    """A session of the call's site that was given the entered code."""

    session_id: str
    visitor_id: str
    started_at: float
    last_seen_at: float


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a code on a call, as stored with the call's events."""

    claim: VisitClaim
    call_id: str  # the provider's call id, like every event of the call
    at: float
    by: str


def draw(digits: int, randbelow: Callable[[int], int]) -> str:
    """A random code of `digits` digits, the first not 0."""
    if not 4 <= digits <= 6:
        raise ValueError("a visit code has 4 to 6 digits")
    low = 10 ** (digits - 1)
    return str(low + randbelow(9 * low))


def normalize(typed: str) -> str | None:
    """The code as stored, from what a person typed ("4821", " 48-21 ", "code 4821",
    "Code: #4821"); None when it cannot be a code."""
    if len(typed) > MAX_INPUT:
        return None
    text = _AROUND.sub("", typed.lower()).removeprefix("code")
    return text if _CODE.fullmatch(text) else None


def keeps(last_seen_at: float, now: float) -> bool:
    """Whether a session seen last at `last_seen_at` still owns the code it was given."""
    return last_seen_at >= now - LIFETIME


def pick(holders: Iterable[CodeHolder], ring_at: float) -> CodeHolder | None:
    """The session an entered code names for a call that rang at `ring_at`, if any."""
    fits = [h for h in holders if keeps(h.last_seen_at, ring_at) and h.started_at <= ring_at + SKEW]
    return max(fits, key=lambda h: (h.started_at <= ring_at, h.started_at), default=None)


def latest(entries: Iterable[Entry]) -> Entry | None:
    """The entry that counts: the last one made (a later code replaces an earlier one)."""
    return max(entries, key=lambda e: (e.at, repr(e)), default=None)


def entry_body(entry: Entry) -> str:
    return json.dumps(
        {
            "code": entry.claim.code,
            "session_id": entry.claim.session_id,
            "visitor_id": entry.claim.visitor_id,
            "call_id": entry.call_id,
            "at": entry.at,
            "by": entry.by,
        },
        sort_keys=True,
    )


def read_entry(body: str) -> Entry | None:
    """An entry back from its stored body; None if it is not one."""
    try:
        data: Any = json.loads(body)
        claim = VisitClaim(str(data["code"]), str(data["session_id"]), str(data["visitor_id"]))
        return Entry(claim, str(data["call_id"]), float(data["at"]), str(data.get("by") or ""))
    except (ValueError, TypeError, KeyError):
        return None
