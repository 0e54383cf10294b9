"""Visitors, sessions, pageviews and tracker events.

Hot-path statements are built once with bound parameters (see pool_repo).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text, update

from callpath.storage.prepared import InsertRows, Prepared
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


_UPSERT_VISITORS = InsertRows(visitors, upsert=(("site_id", "id"), ("last_seen",)))
_INSERT_SESSIONS = InsertRows.into(sessions)
_INSERT_PAGEVIEWS = InsertRows.into(pageviews)
_INSERT_EVENTS = InsertRows.into(session_events)
_SESSION_FIELDS = (
    "id",
    "account_id",
    "site_id",
    "visitor_id",
    "last_seen_at",
    "number_id",
    "number_reason",
    "visit_code",
    "e164",
    "source",  # the channel and country choose the sub-pool when the hold is lost
    "medium",
    "country",
)
_JSON_FIELDS = ("utm", "click_ids", "client_ids")
_GET_SESSION = Prepared(
    select(
        s.id,
        s.account_id,
        s.site_id,
        s.visitor_id,
        s.last_seen_at,
        s.number_id,
        s.number_reason,
        s.visit_code,
        n.e164,
        s.source,
        s.medium,
        s.country,
    )
    .select_from(sessions.outerjoin(tracking_numbers, n.id == s.number_id))
    .where(s.id == bindparam("session_id"))
)


def upsert_visitor(
    conn: Connection, *, site_id: int, account_id: int, visitor: str, now: float
) -> None:
    upsert_visitors(
        conn,
        [
            {
                "site_id": site_id,
                "id": visitor,
                "account_id": account_id,
                "first_seen": now,
                "last_seen": now,
            }
        ],
    )


def upsert_visitors(conn: Connection, rows: list[Row]) -> None:
    """Visitors seen now, each once (`site_id`, `id`, `account_id`, `first_seen`,
    `last_seen`): new ones added, known ones' `last_seen` moved. One statement."""
    _UPSERT_VISITORS.run(conn, rows)


def insert_sessions(conn: Connection, rows: list[Row]) -> None:
    """New sessions, all with the same columns, in one statement (JSON columns as
    Python values)."""
    _INSERT_SESSIONS.run(
        conn, [{k: json.dumps(v) if k in _JSON_FIELDS else v for k, v in r.items()} for r in rows]
    )


def add_pageviews(conn: Connection, rows: list[Row]) -> None:
    """Pageviews (`account_id`, `session_id`, `at`, `url`) in one statement."""
    _INSERT_PAGEVIEWS.run(conn, rows)


def add_events(conn: Connection, rows: list[Row]) -> None:
    """Tracker events (`account_id`, `site_id`, `session_id`, `kind`, `at`, `detail`:
    JSON text or None) in one statement."""
    _INSERT_EVENTS.run(conn, rows)


def add_pageview(
    conn: Connection, *, account_id: int, session_id: str, url: str, now: float
) -> None:
    add_pageviews(
        conn, [{"account_id": account_id, "session_id": session_id, "at": now, "url": url}]
    )


def channels(conn: Connection) -> dict[str, tuple[str, str]]:
    """Every session's (source, medium), by id: for a replay's own throwaway database."""
    c = sessions.c
    return {r.id: (r.source, r.medium) for r in conn.execute(select(c.id, c.source, c.medium))}


def get_session(conn: Connection, session_id: str) -> Row | None:
    row = _GET_SESSION.run(conn, {"session_id": session_id}).fetchone()
    return dict(zip(_SESSION_FIELDS, row, strict=True)) if row else None


def _touch(**columns: Any) -> Any:
    values = {"last_seen_at": bindparam("b_now"), **columns}
    return update(sessions).where(s.id == bindparam("b_id")).values(values)


_TOUCH = Prepared(_touch())
_TOUCH_NUMBER = Prepared(
    _touch(number_id=bindparam("b_number_id"), number_reason=bindparam("b_reason"))
)
_TOUCH_LEFT = Prepared(_touch(left_at=bindparam("b_now")))


def touch_session(conn: Connection, session_id: str, now: float) -> None:
    """Note a sign of life."""
    _TOUCH.run(conn, {"b_id": session_id, "b_now": now})


def set_number(
    conn: Connection, session_id: str, now: float, number_id: int | None, reason: str
) -> None:
    """Record which number the session shows now, and why."""
    _TOUCH_NUMBER.run(
        conn,
        {"b_id": session_id, "b_now": now, "b_number_id": number_id, "b_reason": reason},
    )


def mark_left(conn: Connection, session_id: str, now: float) -> None:
    _TOUCH_LEFT.run(conn, {"b_id": session_id, "b_now": now})


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
    add_events(
        conn,
        [
            {
                "account_id": account_id,
                "site_id": site_id,
                "session_id": session_id,
                "kind": kind,
                "at": now,
                "detail": None if detail is None else json.dumps(detail),
            }
        ],
    )


# Visit codes (`domain/visit_code.py`): only sessions shown the default number because the
# pool was exhausted get one, so these run off the hot path.
_CODE_IN_USE = Prepared(
    select(s.id)
    .where(
        s.site_id == bindparam("site_id"),
        s.visit_code == bindparam("code"),
        s.last_seen_at >= bindparam("since"),
        s.id != bindparam("session_id"),
    )
    .limit(1)
)
_SET_CODE = Prepared(
    update(sessions).where(s.id == bindparam("b_id")).values(visit_code=bindparam("b_code"))
)
_CODE_HOLDERS = (
    select(s.id, s.visitor_id, s.started_at, s.last_seen_at)
    .where(
        s.site_id == bindparam("site_id"),
        s.visit_code == bindparam("code"),
        s.last_seen_at >= bindparam("since"),
    )
    .order_by(s.started_at.desc())
    .limit(20)
)
_LOCK_CODE = Prepared(
    select(func.pg_advisory_xact_lock(func.hashtextextended(bindparam("key"), 0)))
)


def lock_visit_code(conn: Connection, site_id: int, code: str) -> None:
    """Takers of one code on one site take turns until commit (PostgreSQL; a SQLite write
    transaction is exclusive anyway), so "is it free?" and taking it are one step."""
    if conn.dialect.name == "postgresql":
        _LOCK_CODE.run(conn, {"key": f"visit_code:{site_id}:{code}"})  # read with the check


# PostgreSQL, for a group's new sessions: several codes locked (in one order, so two
# groups never wait on each other crosswise) and looked up at once.
_LOCK_CODES = Prepared(
    text(
        "SELECT pg_advisory_xact_lock(hashtextextended(k, 0))"
        " FROM unnest(CAST(:keys AS TEXT[])) AS k ORDER BY k"
    )
)
# Each code looked up on ix_sessions_visit_code by site and code, one index probe each (a
# plain `= ANY`, or EXISTS made a semi-join, read all the site's sessions instead).
_CODES_IN_USE = Prepared(
    text(
        "SELECT c FROM unnest(CAST(:codes AS VARCHAR[])) AS c CROSS JOIN LATERAL ("
        "SELECT 1 FROM sessions s WHERE s.site_id = :site_id AND s.visit_code = c"
        " AND s.last_seen_at >= :since LIMIT 1) AS hit"
    )
)


def lock_visit_codes(conn: Connection, site_id: int, codes: list[str]) -> None:
    """`lock_visit_code` for several codes in one statement (PostgreSQL only)."""
    keys = sorted(f"visit_code:{site_id}:{code}" for code in codes)
    _LOCK_CODES.run(conn, {"keys": keys})


def visit_codes_in_use(
    conn: Connection, *, site_id: int, codes: list[str], since: float
) -> set[str]:
    """Which of `codes` a session of the site seen since `since` has (PostgreSQL only)."""
    rows = _CODES_IN_USE.run(conn, {"site_id": site_id, "codes": codes, "since": since})
    return {str(row[0]) for row in rows.fetchall()}


def visit_code_in_use(
    conn: Connection, *, site_id: int, code: str, since: float, session_id: str
) -> bool:
    """Whether another session of the site that was seen since `since` has this code."""
    params = {"site_id": site_id, "code": code, "since": since, "session_id": session_id}
    return _CODE_IN_USE.run(conn, params).fetchone() is not None


def set_visit_code(conn: Connection, session_id: str, code: str) -> None:
    _SET_CODE.run(conn, {"b_id": session_id, "b_code": code})


def visit_code_holders(conn: Connection, site_id: int, code: str, since: float) -> list[Row]:
    """Sessions of the site given `code` and seen since `since`, latest first."""
    rows = conn.execute(_CODE_HOLDERS, {"site_id": site_id, "code": code, "since": since})
    return [dict(r._mapping) for r in rows]
