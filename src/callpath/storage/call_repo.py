"""Integrations, raw call events and calls: the only SQL of the call pipeline.

The statements of the webhook and apply paths are built once with bound parameters
(building a statement per call cost more CPU than running it; see ARCHITECTURE.md).
The two a routing answer waits for (the number's route, storing the event) also skip
SQLAlchemy's execution layer (`storage.prepared`), as the tracker's hot path does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.prepared import Prepared
from callpath.storage.tables import (
    call_events,
    calls,
    integrations,
    reservations,
    session_events,
    sessions,
    sites,
    tracking_numbers,
)

Row = dict[str, Any]
e, c, i, s, n, r = (
    call_events.c,
    calls.c,
    integrations.c,
    sites.c,
    tracking_numbers.c,
    reservations.c,
)
_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}


def _per_dialect(build: Any) -> dict[str, Any]:
    return {name: build(module.insert) for name, module in _DIALECTS.items()}


_INTEGRATION_COLUMNS = (
    integrations,
    s.default_destination,
    s.region,
    s.match_window,
    s.ping_interval,
)
_INTEGRATION = (
    select(*_INTEGRATION_COLUMNS)
    .join(sites, s.id == i.site_id)
    .where(i.id == bindparam("integration_id"))
)
_ROUTING_COLUMNS = ("id", "site_id", "kind", "forward_to", "active", "default_destination")
_ROUTING_NUMBER = Prepared(
    select(n.id, n.site_id, n.kind, n.forward_to, n.active, s.default_destination)
    .join(sites, s.id == n.site_id)
    .where(n.e164 == bindparam("e164"), n.account_id == bindparam("account_id"))
)
_INSERT_EVENT = {
    name: Prepared(
        module.insert(call_events)
        .on_conflict_do_nothing(index_elements=["integration_id", "dedup_key"])
        .returning(e.id)
    )
    for name, module in _DIALECTS.items()
}
_STORED_RESPONSE = select(e.response).where(
    e.integration_id == bindparam("integration_id"), e.dedup_key == bindparam("dedup_key")
)
_EVENTS_OF = select(
    e.id, e.integration_id, e.account_id, e.kind, e.body, e.response, e.applied_at
).where(e.call_key == bindparam("call_key"))
_EVENT_IDS = (
    select(e.id, e.applied_at.is_(None)).where(e.call_key == bindparam("call_key")).order_by(e.id)
)
_MARK_APPLIED = (
    update(call_events)
    .where(e.id.in_(bindparam("ids", expanding=True)))
    .values(applied_at=bindparam("now"))
)
_PENDING = (  # calls with events not applied yet, the longest waiting first
    select(e.call_key)
    .where(
        e.applied_at.is_(None),
        e.received_at < bindparam("before"),
        e.call_key.not_in(bindparam("skip", expanding=True)),
    )
    .group_by(e.call_key)
    .order_by(func.min(e.id))
    .limit(bindparam("limit"))
)
_CALL_COLUMNS = [col.name for col in calls.columns]


def _upsert(insert: Any) -> Any:
    stmt = insert(calls)
    return stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={name: stmt.excluded[name] for name in _CALL_COLUMNS if name != "id"},
    )


_UPSERT_CALL = _per_dialect(_upsert)
_NUMBER = select(tracking_numbers).where(
    n.e164 == bindparam("e164"), n.account_id == bindparam("account_id")
)
_TAPPED_AT = (
    select(func.max(session_events.c.at))
    .where(
        session_events.c.session_id == r.session_id,
        session_events.c.kind == "tel_click",
        session_events.c.at <= bindparam("ring_at"),
    )
    .scalar_subquery()
)
_HOLDERS = (
    select(
        r.session_id,
        r.visitor_id,
        r.started_at,
        r.last_activity_at,
        r.until,
        _TAPPED_AT.label("tapped_at"),
        sessions.c.country,  # where the visit came from, and on what (one join for both)
        sessions.c.device,
    )
    .select_from(reservations.outerjoin(sessions, sessions.c.id == r.session_id))
    .where(
        r.number_id == bindparam("number_id"),
        r.started_at <= bindparam("ring_at"),
        r.until >= bindparam("since"),
    )
    .order_by(r.started_at.desc())
    .limit(50)
)
_EARLIER = (
    select(c.id, c.started_at, c.visitor_id, c.session_id, c.confidence, c.number_id)
    .where(
        c.site_id == bindparam("site_id"),
        c.caller == bindparam("caller"),
        c.started_at < bindparam("before"),
        c.id != bindparam("call_id"),
        c.direction == "inbound",
    )
    .order_by(c.started_at)
    .limit(50)
)
_SESSION_CHANNEL = select(
    sessions.c.source, sessions.c.medium, sessions.c.campaign, sessions.c.keyword
).where(sessions.c.id == bindparam("session_id"))
_SITE_SETTINGS = select(s.id, s.match_window, s.ping_interval, s.policy, s.region).where(
    s.id == bindparam("site_id")
)
_SERIALIZE = select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key"), 0)))


def _one(conn: Connection, stmt: Any, **params: Any) -> Row | None:
    row = conn.execute(stmt, params).first()
    return dict(row._mapping) if row else None


def _all(conn: Connection, stmt: Any, **params: Any) -> list[Row]:
    return [dict(row._mapping) for row in conn.execute(stmt, params)]


def insert_integration(conn: Connection, values: Row) -> None:
    conn.execute(integrations.insert().values(**values))


def integration(conn: Connection, integration_id: str) -> Row | None:
    return _one(conn, _INTEGRATION, integration_id=integration_id)


def list_integrations(conn: Connection, account_id: int | None = None) -> list[Row]:
    query = select(*_INTEGRATION_COLUMNS).join(sites, s.id == i.site_id)
    if account_id is not None:
        query = query.where(i.account_id == account_id)
    return _all(conn, query.order_by(i.created_at))


def active_integrations(conn: Connection, site_id: int, kind: str) -> list[Row]:
    """The site's active integrations of this kind, oldest first."""
    query = select(*_INTEGRATION_COLUMNS).join(sites, s.id == i.site_id)
    query = query.where(i.site_id == site_id, i.kind == kind, i.active)
    return _all(conn, query.order_by(i.created_at))


def set_integration_active(
    conn: Connection, account_id: int, integration_id: str, active: bool, site_id: int | None
) -> bool:
    """Whether the account's integration (of that site, when one is named) was found."""
    mine = (i.id == integration_id, i.account_id == account_id)
    scoped = (*mine, i.site_id == site_id) if site_id is not None else mine
    return conn.execute(update(integrations).where(*scoped).values(active=active)).rowcount == 1


def integrations_of_kind(conn: Connection, kind: str) -> list[Row]:
    """Every account's active integrations of this kind (id, account_id, secret)."""
    query = select(i.id, i.account_id, i.secret).where(i.kind == kind, i.active.is_(True))
    return _all(conn, query)


def ended_unconfirmed(
    conn: Connection,
    account_id: int,
    integration_id: str,
    since: float,
    confirmed_by: str,
    limit: int,
) -> list[Row]:
    """The integration's calls started since `since` that ended and have no event of kind
    `confirmed_by`, oldest first (id, provider_call_id, ended_at)."""
    confirmed = select(e.id).where(e.call_key == c.id, e.kind == confirmed_by).exists()
    query = select(c.id, c.provider_call_id, c.ended_at).where(
        c.account_id == account_id,
        c.integration_id == integration_id,
        c.started_at >= since,
        c.state == "ended",
        ~confirmed,
    )
    return _all(conn, query.order_by(c.started_at).limit(limit))


def number_for_routing(conn: Connection, account_id: int, e164: str) -> Row | None:
    found = _ROUTING_NUMBER.run(conn, {"e164": e164, "account_id": account_id}).fetchone()
    if found is None:
        return None
    row = dict(zip(_ROUTING_COLUMNS, found, strict=True))
    row["active"] = bool(row["active"])  # SQLite's driver gives 0/1
    return row


def routing_numbers(conn: Connection) -> list[Row]:
    return _all(
        conn,
        select(n.e164, n.id, n.account_id, n.site_id, n.kind, n.forward_to, s.default_destination)
        .join(sites, s.id == n.site_id)
        .where(n.active),
    )


def insert_event(conn: Connection, values: Row) -> bool:
    """Store a raw event; False when this delivery was stored before (a retry)."""
    params = {**values, "response": _json_or_none(values.get("response"))}
    return _INSERT_EVENT[conn.dialect.name].run(conn, params).fetchone() is not None


def _json_or_none(value: Any) -> str | None:
    """A JSON column's value as the driver takes it (SQLAlchemy would `json.dumps` it)."""
    return None if value is None else json.dumps(value)


def stored_response(conn: Connection, integration_id: str, dedup_key: str) -> Any:
    return conn.execute(
        _STORED_RESPONSE, {"integration_id": integration_id, "dedup_key": dedup_key}
    ).scalar()


def events_of(conn: Connection, call_key: str) -> list[Row]:
    return _all(conn, _EVENTS_OF, call_key=call_key)


def event_ids(conn: Connection, call_key: str) -> tuple[list[int], bool]:
    """The call's event ids, in order, and whether any of them is not applied yet."""
    rows = conn.execute(_EVENT_IDS, {"call_key": call_key}).all()
    return [row[0] for row in rows], any(row[1] for row in rows)


def mark_applied(conn: Connection, ids: list[int], now: float) -> None:
    conn.execute(_MARK_APPLIED, {"ids": ids, "now": now})


def pending_call_keys(
    conn: Connection, received_before: float, limit: int, skip: Sequence[str] = ()
) -> list[str]:
    """Calls with events received before `received_before` and not applied yet, the
    longest waiting first (`skip` left out)."""
    params = {"before": received_before, "limit": limit, "skip": list(skip)}
    return [row[0] for row in conn.execute(_PENDING, params)]


def serialize_call(conn: Connection, call_key: str) -> None:
    """Savers of one call take turns until commit (PostgreSQL; a SQLite write transaction
    is exclusive anyway), so "are the events still those I folded?" and the save are one
    step: a saver that folded fewer events cannot overwrite a newer result."""
    if conn.dialect.name == "postgresql":
        conn.execute(_SERIALIZE, {"key": call_key})


def upsert_call(conn: Connection, values: Row) -> None:
    conn.execute(_UPSERT_CALL[conn.dialect.name], values)


def call_by_key(conn: Connection, call_key: str) -> Row | None:
    """One call's row, whole (its account is the caller's to check)."""
    return _one(conn, select(calls).where(c.id == call_key))


def number_by_e164(conn: Connection, account_id: int, e164: str) -> Row | None:
    return _one(conn, _NUMBER, e164=e164, account_id=account_id)


def holders(conn: Connection, number_id: int, ring_at: float, window: float) -> list[Row]:
    return _all(conn, _HOLDERS, number_id=number_id, ring_at=ring_at, since=ring_at - window)


def earlier_calls(
    conn: Connection, site_id: int, caller: str, before: float, call_id: str
) -> list[Row]:
    return _all(conn, _EARLIER, site_id=site_id, caller=caller, before=before, call_id=call_id)


def session_channel(conn: Connection, session_id: str) -> Row | None:
    return _one(conn, _SESSION_CHANNEL, session_id=session_id)


def site_settings(conn: Connection, site_id: int) -> Row:
    row = _one(conn, _SITE_SETTINGS, site_id=site_id)
    if row is None:
        raise LookupError(f"no site {site_id}")
    return row
