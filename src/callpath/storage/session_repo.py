"""Visitors, sessions, pageviews and tracker events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.tables import (
    pageviews,
    session_events,
    sessions,
    tracking_numbers,
    visitors,
)

Row = dict[str, Any]
s = sessions.c


def upsert_visitor(
    conn: Connection, *, site_id: int, account_id: int, visitor: str, now: float
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(visitors).values(
        site_id=site_id, id=visitor, account_id=account_id, first_seen=now, last_seen=now
    )
    conn.execute(
        stmt.on_conflict_do_update(index_elements=["site_id", "id"], set_={"last_seen": now})
    )


def insert_session(conn: Connection, values: Row) -> None:
    conn.execute(insert(sessions).values(**values))


def add_pageview(
    conn: Connection, *, account_id: int, session_id: str, url: str, now: float
) -> None:
    conn.execute(
        insert(pageviews).values(account_id=account_id, session_id=session_id, at=now, url=url)
    )


def get_session(conn: Connection, session_id: str) -> Row | None:
    n = tracking_numbers.c
    row = conn.execute(
        select(
            s.id,
            s.account_id,
            s.site_id,
            s.visitor_id,
            s.last_seen_at,
            s.number_id,
            s.number_reason,
            n.e164,
        )
        .select_from(sessions.outerjoin(tracking_numbers, n.id == s.number_id))
        .where(s.id == session_id)
    ).first()
    return dict(row._mapping) if row else None


def touch_session(conn: Connection, session_id: str, now: float, **values: Any) -> None:
    conn.execute(update(sessions).where(s.id == session_id).values(last_seen_at=now, **values))


def add_event(
    conn: Connection,
    *,
    account_id: int,
    site_id: int,
    session_id: str | None,
    kind: str,
    now: float,
    detail: Row | None = None,
) -> None:
    conn.execute(
        insert(session_events).values(
            account_id=account_id,
            site_id=site_id,
            session_id=session_id,
            kind=kind,
            at=now,
            detail=detail,
        )
    )
