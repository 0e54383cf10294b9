"""One visitor's journey: their visits (pages, channels), calls and deals in time order,
with the credit every attribution model gave each visit for each call.

A journey is found from a visitor id, a call or a deal. It joins the visitor's other
devices when the same caller phoned from them (their visits are this person's too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, or_, select
from sqlalchemy.sql.elements import ColumnElement

from callpath.storage.tables import calls, deals, lead_credits, leads, pageviews, sessions

LIMIT = 500  # visits, calls or deals shown at most (the newest)
PAGES = 50  # pages shown per visit at most
se, k, d, ld, lc, pv = (
    sessions.c,
    calls.c,
    deals.c,
    leads.c,
    lead_credits.c,
    pageviews.c,
)
Row = dict[str, Any]


def start_of(
    conn: Connection, site_id: int, *, call_id: str | None = None, deal_id: int | None = None
) -> tuple[set[str], set[str]] | None:
    """(visitor ids, caller numbers) a call or a deal of the site leads to; None: no such
    call or deal on the site."""
    if call_id is not None:
        row = conn.execute(
            select(k.visitor_id, k.caller).where(k.id == call_id, k.site_id == site_id)
        ).first()
    else:
        row = conn.execute(
            select(d.visitor_id, d.caller).where(d.id == deal_id, d.site_id == site_id)
        ).first()
    if row is None:
        return None
    return ({row.visitor_id} if row.visitor_id else set()), ({row.caller} if row.caller else set())


def journey(
    conn: Connection, site_id: int, zone: str, visitors: set[str], callers: set[str]
) -> dict[str, Any]:
    visitors, callers = _widen(conn, site_id, visitors, callers)
    visits = _visits(conn, site_id, visitors)
    call_rows = _calls(conn, site_id, visitors, callers)
    deal_rows = _deals(conn, site_id, visitors, [c["id"] for c in call_rows])
    credits = _credits(conn, [c["id"] for c in call_rows])
    for call in call_rows:
        call["credits"] = credits.get(call["id"], {})
    events = (
        [{"kind": "visit", **v} for v in visits]
        + [{"kind": "call", **c} for c in call_rows]
        + [{"kind": "deal", **x} for x in deal_rows]
    )
    events.sort(key=lambda e: (e["at"], e["kind"]))
    tz = ZoneInfo(zone)
    for event in events:
        event["at"] = datetime.fromtimestamp(event.pop("at"), tz).isoformat(timespec="seconds")
    return {"visitors": sorted(visitors), "callers": sorted(callers), "events": events}


def _widen(
    conn: Connection, site_id: int, visitors: set[str], callers: set[str]
) -> tuple[set[str], set[str]]:
    """The visitors and callers one hop away: a caller's visitors, a visitor's callers."""
    person = _calls_of(visitors, callers)
    if person is None:
        return visitors, callers
    query = select(k.visitor_id, k.caller).where(k.site_id == site_id, person).limit(LIMIT)
    found = conn.execute(query).all()
    return (
        visitors | {r.visitor_id for r in found if r.visitor_id},
        callers | {r.caller for r in found if r.caller},
    )


def _visits(conn: Connection, site_id: int, visitors: set[str]) -> list[Row]:
    if not visitors:
        return []
    query = (
        select(
            se.id,
            se.visitor_id,
            se.started_at,
            se.landing_url,
            se.referrer,
            se.source,
            se.medium,
            se.campaign,
            se.keyword,
            se.device,
            se.country,
        )
        .where(se.site_id == site_id, se.visitor_id.in_(sorted(visitors)[:LIMIT]))
        .order_by(se.started_at.desc())
        .limit(LIMIT)
    )
    rows = [dict(r._mapping) for r in conn.execute(query)]
    pages = _pages(conn, [r["id"] for r in rows])
    out = []
    for r in rows:
        session_id, at = r.pop("id"), float(r.pop("started_at"))
        out.append({"at": at, "session_id": session_id, **r, "pages": pages.get(session_id, [])})
    return out


def _pages(conn: Connection, session_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for start in range(0, len(session_ids), 200):
        chunk = session_ids[start : start + 200]
        query = select(pv.session_id, pv.url).where(pv.session_id.in_(chunk)).order_by(pv.at)
        for r in conn.execute(query):
            urls = out.setdefault(r.session_id, [])
            if len(urls) < PAGES:
                urls.append(r.url)
    return out


def _calls_of(visitors: set[str], callers: set[str]) -> ColumnElement[bool] | None:
    """Calls matched to one of the visitors or from one of the callers (None: neither)."""
    conds = []
    if visitors:
        conds.append(k.visitor_id.in_(sorted(visitors)[:LIMIT]))
    if callers:
        conds.append(k.caller.in_(sorted(callers)[:LIMIT]))
    return or_(*conds) if conds else None


def _calls(conn: Connection, site_id: int, visitors: set[str], callers: set[str]) -> list[Row]:
    person = _calls_of(visitors, callers)
    if person is None:
        return []
    query = (
        select(
            k.id,
            k.started_at,
            k.caller,
            k.tracking_number,
            k.status,
            k.talk,
            k.session_id,
            k.match_method,
            k.confidence,
            k.direction,
            ld.first_time,
            ld.target,
            ld.lost,
            ld.spam,
        )
        .select_from(calls.outerjoin(leads, ld.id == k.id))
        .where(k.site_id == site_id, person)
        .order_by(k.started_at.desc())
        .limit(LIMIT)
    )
    out = []
    for r in conn.execute(query):
        row = dict(r._mapping)
        row["at"] = float(row.pop("started_at"))  # made local ISO with the other events
        out.append(row)
    return out


def _deals(conn: Connection, site_id: int, visitors: set[str], call_ids: list[str]) -> list[Row]:
    conds = []
    if visitors:
        conds.append(d.visitor_id.in_(sorted(visitors)[:LIMIT]))
    if call_ids:
        conds.append(d.call_id.in_(call_ids))
    if not conds:
        return []
    query = (
        select(d.id, d.title, d.amount_cents, d.currency, d.status, d.call_id, d.created_at)
        .where(d.site_id == site_id, or_(*conds))
        .order_by(d.created_at.desc())
        .limit(LIMIT)
    )
    return [
        {
            "deal_id": r.id,
            "title": r.title,
            "amount": r.amount_cents / 100.0,
            "currency": r.currency,
            "status": r.status,
            "call_id": r.call_id,
            "at": float(r.created_at),
        }
        for r in conn.execute(query)
    ]


def _credits(conn: Connection, call_ids: list[str]) -> dict[str, dict[str, list[Row]]]:
    """{call id: {model: [{session_id, source, medium, share}]}}."""
    out: dict[str, dict[str, list[Row]]] = {}
    for start in range(0, len(call_ids), 200):
        query = (
            select(lc.lead_id, lc.model, lc.session_id, lc.source, lc.medium, lc.share)
            .where(lc.lead_id.in_(call_ids[start : start + 200]))
            .order_by(lc.lead_id, lc.model, lc.n)
        )
        for r in conn.execute(query):
            out.setdefault(r.lead_id, {}).setdefault(r.model, []).append(
                {
                    "session_id": r.session_id,
                    "source": r.source,
                    "medium": r.medium,
                    "share": round(float(r.share), 4),
                }
            )
    return out
