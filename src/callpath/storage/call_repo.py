"""Integrations, raw call events and calls: the only SQL of the call pipeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.tables import (
    call_events,
    calls,
    integrations,
    reservations,
    sessions,
    sites,
    tracking_numbers,
)

Row = dict[str, Any]
e = call_events.c
c = calls.c


def _insert(conn: Connection, table: Any) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def insert_integration(conn: Connection, values: Row) -> None:
    conn.execute(integrations.insert().values(**values))


def integration(conn: Connection, integration_id: str) -> Row | None:
    i, s = integrations.c, sites.c
    row = conn.execute(
        select(integrations, s.default_destination, s.region, s.match_window, s.ping_interval)
        .join(sites, s.id == i.site_id)
        .where(i.id == integration_id)
    ).first()
    return dict(row._mapping) if row else None


def list_integrations(conn: Connection, account_id: int | None = None) -> list[Row]:
    i, s = integrations.c, sites.c
    query = select(integrations, s.default_destination, s.region, s.match_window, s.ping_interval)
    query = query.join(sites, s.id == i.site_id)
    if account_id is not None:
        query = query.where(i.account_id == account_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(i.created_at))]


def number_for_routing(conn: Connection, account_id: int, e164: str) -> Row | None:
    n, s = tracking_numbers.c, sites.c
    row = conn.execute(
        select(n.id, n.site_id, n.kind, n.forward_to, n.active, s.default_destination)
        .join(sites, s.id == n.site_id)
        .where(n.e164 == e164, n.account_id == account_id)
    ).first()
    return dict(row._mapping) if row else None


def routing_numbers(conn: Connection) -> list[Row]:
    n, s = tracking_numbers.c, sites.c
    rows = conn.execute(
        select(n.e164, n.id, n.account_id, n.site_id, n.kind, n.forward_to, s.default_destination)
        .join(sites, s.id == n.site_id)
        .where(n.active)
    )
    return [dict(r._mapping) for r in rows]


def insert_event(conn: Connection, values: Row) -> bool:
    """Store a raw event; False when this delivery was stored before (a retry)."""
    stmt = _insert(conn, call_events).values(**values)
    stmt = stmt.on_conflict_do_nothing(index_elements=["integration_id", "dedup_key"])
    return conn.execute(stmt.returning(e.id)).first() is not None


def stored_response(conn: Connection, integration_id: str, dedup_key: str) -> Any:
    return conn.execute(
        select(e.response).where(e.integration_id == integration_id, e.dedup_key == dedup_key)
    ).scalar()


def events_of(conn: Connection, call_key: str) -> list[Row]:
    rows = conn.execute(
        select(e.id, e.integration_id, e.account_id, e.body).where(e.call_key == call_key)
    )
    return [dict(r._mapping) for r in rows]


def mark_applied(conn: Connection, ids: list[int], now: float) -> None:
    conn.execute(update(call_events).where(e.id.in_(ids)).values(applied_at=now))


def pending_call_keys(conn: Connection, received_before: float, limit: int) -> list[str]:
    rows = conn.execute(
        select(e.call_key)
        .where(e.applied_at.is_(None), e.received_at < received_before)
        .group_by(e.call_key)
        .limit(limit)
    )
    return [r[0] for r in rows]


def serialize_call(conn: Connection, call_key: str) -> None:
    """Savers of one call take turns until commit (PostgreSQL; a SQLite write transaction
    is exclusive anyway), so "are the events still those I folded?" and the save are one
    step: a saver that folded fewer events cannot overwrite a newer result."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(call_key, 0))))


def event_ids(conn: Connection, call_key: str) -> list[int]:
    rows = conn.execute(select(e.id).where(e.call_key == call_key).order_by(e.id))
    return [r[0] for r in rows]


def upsert_call(conn: Connection, values: Row) -> None:
    stmt = _insert(conn, calls).values(**values)
    changed = {k: v for k, v in values.items() if k != "id"}
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=changed))


def number_by_e164(conn: Connection, account_id: int, e164: str) -> Row | None:
    n = tracking_numbers.c
    row = conn.execute(
        select(tracking_numbers).where(n.e164 == e164, n.account_id == account_id)
    ).first()
    return dict(row._mapping) if row else None


def holders(conn: Connection, number_id: int, ring_at: float, window: float) -> list[Row]:
    r = reservations.c
    rows = conn.execute(
        select(r.session_id, r.visitor_id, r.started_at, r.last_activity_at, r.until)
        .where(r.number_id == number_id, r.started_at <= ring_at, r.until >= ring_at - window)
        .order_by(r.started_at.desc())
        .limit(20)
    )
    return [dict(x._mapping) for x in rows]


def earlier_calls(
    conn: Connection, site_id: int, caller: str, before: float, call_id: str
) -> list[Row]:
    rows = conn.execute(
        select(c.id, c.started_at, c.visitor_id, c.session_id)
        .where(c.site_id == site_id, c.caller == caller, c.started_at < before, c.id != call_id)
        .order_by(c.started_at)
        .limit(50)
    )
    return [dict(x._mapping) for x in rows]


def session_channel(conn: Connection, session_id: str) -> Row | None:
    s = sessions.c
    row = conn.execute(
        select(s.source, s.medium, s.campaign, s.keyword).where(s.id == session_id)
    ).first()
    return dict(row._mapping) if row else None


def site_settings(conn: Connection, site_id: int) -> Row:
    s = sites.c
    row = conn.execute(
        select(s.id, s.default_destination, s.match_window, s.ping_interval).where(s.id == site_id)
    ).one()
    return dict(row._mapping)
