"""Visit codes: given to visits shown the default number, entered on calls by people.

The tracker side (`draw`) runs inside the tracker's transaction. The entry side
(`enter`) stores the entered code as an event of the call, then applies the call again:
folding sees the event like any other, so the attribution survives every later re-apply
and any redelivery of the call's own events. The rules are in `domain/visit_code.py`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from callpath.domain import visit_code
from callpath.domain.calls import is_call_key
from callpath.domain.site import SiteConfig
from callpath.domain.visit_code import CodeHolder, Entry, VisitClaim

__all__ = ["CodeError", "Entered", "Entry", "draw", "draw_all", "enter", "entry_of"]
from callpath.services import calls
from callpath.storage import call_repo, session_repo, visit_code_repo
from callpath.storage.db import transaction

Clock = Callable[[], float]
Row = dict[str, Any]


class CodeError(ValueError):
    """An entry refused, with the HTTP status that says why (400 malformed, 404 unknown)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def draw(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    kept: str | None,
    now: float,
    taken: set[str] | None = None,
) -> str | None:
    """The code a session shown the default number displays: `kept` (the code it still
    owns, if any), else a new one (the caller writes it with the session); None only if
    every draw collided. `taken`: codes given in this transaction to sessions not
    written yet (the lookup cannot see them, and the lock is this transaction's own);
    the new code is added."""
    if kept is not None:
        return kept
    for digits in visit_code.DRAWS:
        code = visit_code.draw(digits, secrets.randbelow)
        if taken is not None and code in taken:
            continue
        session_repo.lock_visit_code(conn, site.id, code)
        if not session_repo.visit_code_in_use(
            conn,
            site_id=site.id,
            code=code,
            since=now - visit_code.LIFETIME,
            session_id=session_id,
        ):
            if taken is not None:
                taken.add(code)
            return code
    return None


def draw_all(
    conn: Connection, site: SiteConfig, count: int, now: float, taken: set[str]
) -> list[str | None]:
    """`draw` for `count` new sessions of one group at once (PostgreSQL): each round
    draws a code for every session still without one, locks them and looks them up in
    one statement each; a code in use (or given in this transaction) is drawn again in
    the next round, longer as in `draw`."""
    codes: list[str | None] = [None] * count
    waiting = list(range(count))
    for digits in visit_code.DRAWS:
        if not waiting:
            break
        drawn: dict[int, str] = {}
        for i in waiting:
            code = visit_code.draw(digits, secrets.randbelow)
            if code not in taken and code not in drawn.values():
                drawn[i] = code
        if drawn:
            session_repo.lock_visit_codes(conn, site.id, list(drawn.values()))
            used = session_repo.visit_codes_in_use(
                conn, site_id=site.id, codes=list(drawn.values()), since=now - visit_code.LIFETIME
            )
            for i, code in drawn.items():
                if code not in used:
                    codes[i] = code
                    taken.add(code)
        waiting = [i for i in waiting if codes[i] is None]
    return codes


@dataclass(frozen=True, slots=True)
class Entered:
    call_id: str
    code: str
    session_id: str
    applied: bool  # False: the call was busy; the worker applies it shortly


def enter(
    engine: Engine, account_id: int, call_id: str, typed: str, by: str, clock: Clock
) -> Entered:
    """Attribute call `call_id` of the account to the visit that showed code `typed`.

    Raises `CodeError`: 400 for something that cannot be a code, 404 for a call not of
    this account or a code no visit of the call's site showed around the ring.
    """
    code = visit_code.normalize(typed)
    if code is None:
        raise CodeError(400, "code: a visit code is 4 to 6 digits")
    if not is_call_key(call_id):
        raise CodeError(404, "no such call")
    with transaction(engine) as conn:
        call = visit_code_repo.call_for_entry(conn, account_id, call_id)
        if call is None:
            raise CodeError(404, "no such call")
        holder = _holder(conn, call, code)
        claim = VisitClaim(code, holder.session_id, holder.visitor_id)
        current = entry_of(conn, call["id"])
        if current is None or current.claim != claim:
            _store(conn, call, Entry(claim, call["provider_call_id"], clock(), by[:200]))
    applied = calls.apply(engine, call["id"], clock)
    return Entered(call["id"], code, holder.session_id, applied)


def _holder(conn: Connection, call: Row, code: str) -> CodeHolder:
    ring_at = float(call["started_at"])
    since = ring_at - visit_code.LIFETIME
    rows = session_repo.visit_code_holders(conn, call["site_id"], code, since)
    holders = [
        CodeHolder(r["id"], r["visitor_id"], r["started_at"], r["last_seen_at"]) for r in rows
    ]
    found = visit_code.pick(holders, ring_at)
    if found is None:
        raise CodeError(404, f"no visit showed code {code} around the time of this call")
    return found


def _store(conn: Connection, call: Row, entry: Entry) -> None:
    call_repo.insert_event(
        conn,
        {
            "account_id": call["account_id"],
            "integration_id": call["integration_id"],
            "dedup_key": f"{visit_code.KIND}:{secrets.token_hex(16)}",  # every entry counts
            "call_key": call["id"],
            "kind": visit_code.KIND,
            "received_at": entry.at,
            "body": visit_code.entry_body(entry),
            "response": None,
        },
    )


def entry_of(conn: Connection, call_id: str) -> Entry | None:
    """The code entry that counts for a call (the latest), or None."""
    rows = call_repo.events_of(conn, call_id)
    entries = [visit_code.read_entry(r["body"]) for r in rows if r["kind"] == visit_code.KIND]
    return visit_code.latest(e for e in entries if e is not None)
