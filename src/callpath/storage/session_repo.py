"""Visitors, sessions, pageviews and tracker events.

Hot-path statements are built once with bound parameters (see pool_repo).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
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
n = tracking_numbers.c


def _upsert(dialect_insert: Any) -> Any:
    stmt = dialect_insert(visitors)
    return stmt.on_conflict_do_update(
        index_elements=["site_id", "id"], set_={"last_seen": stmt.excluded.last_seen}
    )


_UPSERT_VISITOR = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_INSERT_SESSION = insert(sessions)
_INSERT_PAGEVIEW = insert(pageviews)
_INSERT_EVENT = insert(session_events)
_GET_SESSION = (
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
    .where(s.id == bindparam("session_id"))
)


def upsert_visitor(
    conn: Connection, *, site_id: int, account_id: int, visitor: str, now: float
) -> None:
    conn.execute(
        _UPSERT_VISITOR[conn.dialect.name],
        {
            "site_id": site_id,
            "id": visitor,
            "account_id": account_id,
            "first_seen": now,
            "last_seen": now,
        },
    )


def insert_session(conn: Connection, values: Row) -> None:
    conn.execute(_INSERT_SESSION, values)


def add_pageview(
    conn: Connection, *, account_id: int, session_id: str, url: str, now: float
) -> None:
    conn.execute(
        _INSERT_PAGEVIEW,
        {"account_id": account_id, "session_id": session_id, "at": now, "url": url},
    )


def get_session(conn: Connection, session_id: str) -> Row | None:
    row = conn.execute(_GET_SESSION, {"session_id": session_id}).first()
    return dict(row._mapping) if row else None


def _touch(**columns: Any) -> Any:
    values = {"last_seen_at": bindparam("b_now"), **columns}
    return update(sessions).where(s.id == bindparam("b_id")).values(values)


_TOUCH = _touch()
_TOUCH_NUMBER = _touch(number_id=bindparam("b_number_id"), number_reason=bindparam("b_reason"))
_TOUCH_LEFT = _touch(left_at=bindparam("b_now"))


def touch_session(conn: Connection, session_id: str, now: float) -> None:
    """Note a sign of life."""
    conn.execute(_TOUCH, {"b_id": session_id, "b_now": now})


def set_number(
    conn: Connection, session_id: str, now: float, number_id: int | None, reason: str
) -> None:
    """Record which number the session shows now, and why."""
    conn.execute(
        _TOUCH_NUMBER,
        {"b_id": session_id, "b_now": now, "b_number_id": number_id, "b_reason": reason},
    )


def mark_left(conn: Connection, session_id: str, now: float) -> None:
    conn.execute(_TOUCH_LEFT, {"b_id": session_id, "b_now": now})


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
        _INSERT_EVENT,
        {
            "account_id": account_id,
            "site_id": site_id,
            "session_id": session_id,
            "kind": kind,
            "at": now,
            "detail": detail,
        },
    )
