"""Leads and what classifying them reads: a site's calls by caller, the block list."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.tables import (
    blocked_numbers,
    callbacks_handled,
    calls,
    lead_credits,
    leads,
    sessions,
    sites,
)

Row = dict[str, Any]
c, ld, b, s = calls.c, leads.c, blocked_numbers.c, sites.c
se, lc = sessions.c, lead_credits.c
NOT_TOUCHES = ("bot",)  # sessions that are no visit of a person
_LEAD_COLUMNS = [col.name for col in leads.columns]
_ANSWERED = case(((c.status == "answered") | c.answered_at.is_not(None), True), else_=False).label(
    "answered"
)
_CALL_FACTS = (
    c.id,
    c.account_id,
    c.caller,
    c.state,
    c.started_at,
    c.ended_at,
    _ANSWERED,
    c.talk,
    c.visitor_id,
    c.source,
    c.medium,
    c.campaign,
    c.keyword,
    c.direction,
)


def _upsert(module: Any) -> Any:
    stmt = module.insert(leads)
    updated = {name: stmt.excluded[name] for name in _LEAD_COLUMNS if name != "id"}
    return stmt.on_conflict_do_update(index_elements=["id"], set_=updated)


_UPSERT = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


def rules(conn: Connection, site_id: int) -> Row | None:
    """The site's stored rules (None: the defaults) and what classifying needs of it."""
    query = select(s.id, s.account_id, s.lead_rules).where(s.id == site_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def set_rules(conn: Connection, site_id: int, stored: Row) -> None:
    conn.execute(update(sites).where(s.id == site_id).values(lead_rules=stored))


def calls_between(conn: Connection, site_id: int, since: float, until: float) -> list[Row]:
    """The site's calls started in [since, until), in time order."""
    query = select(*_CALL_FACTS).where(
        c.site_id == site_id, c.started_at >= since, c.started_at < until
    )
    return [dict(r._mapping) for r in conn.execute(query.order_by(c.started_at, c.id))]


def due_calls(conn: Connection, since: float, limit: int) -> list[Row]:
    """Calls of a site changed since `since` whose lead is missing or older than the
    call's last change (index `ix_calls_updated`), oldest change first."""
    query = (
        select(*_CALL_FACTS, c.site_id)
        .select_from(calls.outerjoin(leads, ld.id == c.id))
        .where(
            c.updated_at >= since,
            c.site_id.is_not(None),
            (ld.id.is_(None)) | (ld.classified_at < c.updated_at),
        )
        .order_by(c.updated_at, c.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def caller_calls_near(
    conn: Connection, site_id: int, caller: str, since: float, until: float, most: int
) -> list[Row]:
    """One caller's calls to the site in [since, until), in time order, at most `most`
    (the latest): a number calling thousands of times costs a bounded amount."""
    query = (
        select(*_CALL_FACTS)
        .where(
            c.site_id == site_id,
            c.caller == caller,
            c.started_at >= since,
            c.started_at < until,
        )
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(most)
    )
    return [dict(r._mapping) for r in conn.execute(query)][::-1]


def last_calls_before(
    conn: Connection, site_id: int, callers: Sequence[str], before: float
) -> dict[str, float]:
    """Each caller's latest call to the site before `before` (callers with none: absent)."""
    found: dict[str, float] = {}
    for start in range(0, len(callers), 500):  # bounded IN lists
        chunk = list(callers[start : start + 500])
        query = (
            select(c.caller, func.max(c.started_at))
            .where(
                c.site_id == site_id,
                c.caller.in_(chunk),
                c.started_at < before,
                c.direction == "inbound",
            )
            .group_by(c.caller)
        )
        found.update({str(r[0]): float(r[1]) for r in conn.execute(query)})
    return found


def blocked(conn: Connection, account_id: int, numbers: Iterable[str]) -> set[str]:
    wanted = sorted(set(numbers))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        query = select(b.e164).where(
            b.account_id == account_id, b.e164.in_(wanted[start : start + 500])
        )
        found.update(str(r[0]) for r in conn.execute(query))
    return found


def block(conn: Connection, account_id: int, e164: str, note: str | None, now: float) -> bool:
    """False when the number was on the list already."""
    if conn.execute(select(b.e164).where(b.account_id == account_id, b.e164 == e164)).first():
        return False
    conn.execute(
        insert(blocked_numbers).values(account_id=account_id, e164=e164, note=note, created_at=now)
    )
    return True


def unblock(conn: Connection, account_id: int, e164: str) -> bool:
    done = conn.execute(delete(blocked_numbers).where(b.account_id == account_id, b.e164 == e164))
    return bool(done.rowcount)


def block_list(conn: Connection, account_id: int) -> list[Row]:
    query = select(blocked_numbers).where(b.account_id == account_id).order_by(b.e164)
    return [dict(r._mapping) for r in conn.execute(query)]


def save(conn: Connection, rows: Sequence[Row]) -> None:
    if rows:
        conn.execute(_UPSERT[conn.dialect.name], list(rows))


def page(
    conn: Connection,
    account_id: int,
    site_id: int | None,
    since: float | None,
    until: float | None,
    after: tuple[float, str] | None,
    limit: int,
) -> list[Row]:
    """The account's leads, newest first, after the cursor (started_at, id)."""
    query = select(leads).where(ld.account_id == account_id, ld.kind == "call")
    if site_id is not None:
        query = query.where(ld.site_id == site_id)
    if since is not None:
        query = query.where(ld.started_at >= since)
    if until is not None:
        query = query.where(ld.started_at < until)
    if after is not None:
        t, lead_id = after
        query = query.where((ld.started_at < t) | ((ld.started_at == t) & (ld.id < lead_id)))
    query = query.order_by(ld.started_at.desc(), ld.id.desc()).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]


def caller_visitors(
    conn: Connection, site_id: int, caller: str, since: float, until: float
) -> set[str]:
    """The visitors the caller's calls were matched to (one person on several devices)."""
    query = select(c.visitor_id).where(
        c.site_id == site_id,
        c.caller == caller,
        c.started_at >= since,
        c.started_at < until,
        c.visitor_id.is_not(None),
    )
    return {str(r[0]) for r in conn.execute(query.distinct())}


def journey(
    conn: Connection, site_id: int, visitors: Iterable[str], since: float, until: float
) -> list[Row]:
    """The visitors' visits to the site in [since, until), oldest first, bots left out."""
    wanted = sorted(set(visitors))
    if not wanted:
        return []
    query = (
        select(se.id, se.started_at, se.source, se.medium, se.campaign, se.keyword)
        .where(
            se.site_id == site_id,
            se.visitor_id.in_(wanted[:50]),
            se.started_at >= since,
            se.started_at < until,
            se.number_reason.not_in(NOT_TOUCHES),
        )
        .order_by(se.started_at, se.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def save_credits(conn: Connection, lead_ids: Sequence[str], rows: Sequence[Row]) -> None:
    """The leads' credits become `rows` (all models)."""
    for start in range(0, len(lead_ids), 500):
        chunk = list(lead_ids[start : start + 500])
        conn.execute(delete(lead_credits).where(lc.lead_id.in_(chunk)))
    for start in range(0, len(rows), 1000):
        conn.execute(insert(lead_credits), list(rows[start : start + 1000]))


def credits_of(conn: Connection, lead_ids: Sequence[str], model: str) -> list[Row]:
    if not lead_ids:
        return []
    query = (
        select(lead_credits)
        .where(lc.lead_id.in_(list(lead_ids)), lc.model == model)
        .order_by(lc.lead_id, lc.n)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def lead_of(conn: Connection, account_id: int, call_id: str) -> tuple[Row | None, list[Row]]:
    """A call's lead (None: not classified yet) and its credits under every model."""
    row = conn.execute(select(leads).where(ld.account_id == account_id, ld.id == call_id)).first()
    if row is None:
        return None, []
    query = select(lead_credits).where(lc.lead_id == call_id).order_by(lc.model, lc.n)
    return dict(row._mapping), [dict(r._mapping) for r in conn.execute(query)]


def notice_facts(conn: Connection, account_id: int, call_id: str) -> Row | None:
    """What a notification about a call's lead reads at send time: the lead's verdict
    now, the call's state, and whether its caller was marked handled (None: no lead)."""
    query = (
        select(
            ld.kind,
            ld.site_id,
            ld.caller,
            ld.started_at,
            ld.first_time,
            ld.target,
            ld.missed,
            ld.lost,
            ld.spam,
            c.state,
            callbacks_handled.c.handled_at,
        )
        .select_from(
            leads.join(calls, c.id == ld.call_id).outerjoin(
                callbacks_handled, callbacks_handled.c.call_id == ld.call_id
            )
        )
        .where(ld.account_id == account_id, ld.id == call_id)
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def reached(conn: Connection, site_id: int, caller: str, since: float, until: float) -> bool:
    """Whether the caller spoke to the site in (since, until]: an answered call from them
    (they got through) or to them (they were called back)."""
    answered = (c.status == "answered") | c.answered_at.is_not(None)
    query = (
        select(c.id)
        .where(
            c.site_id == site_id,
            c.caller == caller,
            c.started_at > since,
            c.started_at <= until,
            answered,
        )
        .limit(1)
    )
    return conn.execute(query).first() is not None
