"""Deals, scoped by account, and the lookups that link one to the visit it came from."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from callpath.storage.tables import calls, deals, sessions, sites

Row = dict[str, Any]
d, c, s = deals.c, calls.c, sessions.c


def insert_deal(conn: Connection, values: Row) -> int:
    """The new deal's id. Raises the driver's IntegrityError for an external id the
    account already has (two requests for one new deal at once)."""
    result = conn.execute(insert(deals).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_deal(conn: Connection, account_id: int, deal_id: int, values: Row) -> None:
    conn.execute(update(deals).where(d.id == deal_id, d.account_id == account_id).values(**values))


def by_external_id(conn: Connection, account_id: int, external_id: str, lock: bool) -> Row | None:
    query = select(deals).where(d.account_id == account_id, d.external_id == external_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return dict(row._mapping) if row else None


def by_id(conn: Connection, account_id: int, deal_id: int) -> Row | None:
    row = conn.execute(select(deals).where(d.id == deal_id, d.account_id == account_id)).first()
    return dict(row._mapping) if row else None


def page(
    conn: Connection,
    account_id: int,
    *,
    site_id: int | None,
    status: str | None,
    after_id: int,
    limit: int,
) -> list[Row]:
    """The account's deals in id order after `after_id` (at most `limit`)."""
    query = select(deals).where(d.account_id == account_id, d.id > after_id)
    if site_id is not None:
        query = query.where(d.site_id == site_id)
    if status is not None:
        query = query.where(d.status == status)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.id).limit(limit))]


def newest(
    conn: Connection, account_id: int, *, site_id: int | None, status: str | None, limit: int
) -> list[Row]:
    """The account's latest deals, newest first, with their site's name and timezone."""
    query = (
        select(deals, sites.c.name.label("site_name"), sites.c.timezone)
        .join(sites, sites.c.id == d.site_id)
        .where(d.account_id == account_id)
    )
    if site_id is not None:
        query = query.where(d.site_id == site_id)
    if status is not None:
        query = query.where(d.status == status)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.id.desc()).limit(limit))]


def of_call(conn: Connection, account_id: int, call_id: str) -> list[Row]:
    """The deals linked to a call, in the order recorded."""
    query = select(deals).where(d.account_id == account_id, d.call_id == call_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(d.id))]


def won_by_call(conn: Connection, account_id: int, call_ids: list[str]) -> dict[str, Row]:
    """{call id: {currency: cents}}: the won deals' amounts of each call, per currency."""
    out: dict[str, Row] = {}
    if not call_ids:
        return out
    query = (
        select(d.call_id, d.currency, func.sum(d.amount_cents))
        .where(d.account_id == account_id, d.call_id.in_(call_ids), d.status == "won")
        .group_by(d.call_id, d.currency)
    )
    for call_id, currency, cents in conn.execute(query):
        out.setdefault(call_id, {})[currency] = int(cents)
    return out


def call_of_account(conn: Connection, account_id: int, call_id: str) -> Row | None:
    """A call's site and the visit it was matched to (id, site_id, session_id, visitor_id)."""
    query = select(c.id, c.site_id, c.session_id, c.visitor_id).where(
        c.id == call_id, c.account_id == account_id
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def latest_call_from(
    conn: Connection, account_id: int, caller: str, site_id: int | None, before: float
) -> Row | None:
    """The caller's latest call to the account (to `site_id` when given) started before
    `before` (index `ix_calls_caller` when the site is known)."""
    query = select(c.id, c.site_id, c.session_id, c.visitor_id).where(
        c.account_id == account_id, c.caller == caller, c.started_at < before
    )
    if site_id is not None:
        query = query.where(c.site_id == site_id)
    row = conn.execute(query.order_by(c.started_at.desc()).limit(1)).first()
    return dict(row._mapping) if row else None


def visitor_seen(conn: Connection, site_id: int, visitor_id: str) -> bool:
    """Whether the site has a session of this visitor."""
    query = select(s.id).where(s.site_id == site_id, s.visitor_id == visitor_id).limit(1)
    return conn.execute(query).first() is not None
