"""Read side of the calls journal and the sessions list: filters and cursor paging.

Pages go newest first by (started_at, id); a cursor is the last row's pair, opaque to
clients. Every query is scoped to one account.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, func, or_, select, tuple_

from callpath.storage.tables import calls, sessions, sites, tracking_numbers

Row = dict[str, Any]
STATUS_FILTERS = ("answered", "missed", "busy", "failed", "in_progress")


class BadFilter(ValueError):
    """A filter or cursor the client must correct."""


@dataclass(frozen=True, slots=True)
class Filters:
    account_id: int
    site_id: int | None = None
    since: float | None = None
    until: float | None = None
    status: str | None = None
    number: str | None = None
    channel: str | None = None
    cursor: str | None = None
    limit: int = 50
    visitor_id: str | None = None  # sessions only


def encode_cursor(started_at: float, row_id: str | int) -> str:
    raw = json.dumps([started_at, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_at, row_id = json.loads(raw)
        return float(started_at), row_id
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise BadFilter("cursor: not a cursor this server gave out") from exc


def _page(query: Select[Any], time_col: Any, id_col: Any, f: Filters) -> Select[Any]:
    if f.since is not None:
        query = query.where(time_col >= f.since)
    if f.until is not None:
        query = query.where(time_col < f.until)
    if f.cursor:
        started_at, row_id = decode_cursor(f.cursor)
        if not isinstance(row_id, str) or len(row_id) > 64:
            raise BadFilter("cursor: not a cursor this server gave out")
        query = query.where(tuple_(time_col, id_col) < tuple_(started_at, row_id))
    return query.order_by(time_col.desc(), id_col.desc()).limit(f.limit + 1)


def _finish(rows: list[Row], f: Filters) -> tuple[list[Row], str | None]:
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    cursor = encode_cursor(rows[-1]["started_at"], rows[-1]["id"]) if more and rows else None
    return rows, cursor


def _calls_query(account_id: int) -> Select[Any]:
    c, s, n, st = calls.c, sessions.c, tracking_numbers.c, sites.c
    return (
        select(
            calls,
            s.landing_url,
            s.referrer,
            s.device,
            s.browser,
            s.os,
            s.country,
            s.region,
            s.city,
            n.label.label("number_label"),
            n.kind.label("number_kind"),
            st.timezone,
            st.name.label("site_name"),
        )
        .select_from(
            calls.outerjoin(sessions, s.id == c.session_id)
            .outerjoin(tracking_numbers, n.id == c.number_id)
            .outerjoin(sites, st.id == c.site_id)
        )
        .where(c.account_id == account_id)
    )


def list_calls(conn: Connection, f: Filters) -> tuple[list[Row], str | None]:
    query = _call_filters(_calls_query(f.account_id), f)
    rows = [dict(r._mapping) for r in conn.execute(_page(query, calls.c.started_at, calls.c.id, f))]
    return _finish(rows, f)


def totals(conn: Connection, f: Filters) -> dict[str, int]:
    """Calls matching the filters (the date range included, not the page), by status;
    "in_progress" for calls not over yet, "all" for their sum."""
    c = calls.c
    query = _call_filters(select(c.status, func.count()).where(c.account_id == f.account_id), f)
    if f.since is not None:
        query = query.where(c.started_at >= f.since)
    if f.until is not None:
        query = query.where(c.started_at < f.until)
    counts = {
        status or "in_progress": int(n) for status, n in conn.execute(query.group_by(c.status))
    }
    return {**counts, "all": sum(counts.values())}


def call_by_id(conn: Connection, account_id: int, call_id: str) -> Row | None:
    row = conn.execute(_calls_query(account_id).where(calls.c.id == call_id)).first()
    return dict(row._mapping) if row else None


def _call_filters(query: Select[Any], f: Filters) -> Select[Any]:
    c = calls.c
    if f.site_id is not None:
        query = query.where(c.site_id == f.site_id)
    if f.status == "in_progress":
        query = query.where(c.status.is_(None))
    elif f.status:
        query = query.where(c.status == f.status)
    if f.number:
        query = query.where(c.tracking_number == f.number)
    if f.channel:
        query = query.where(_channel_clause(f.channel))
    return query


def _channel_clause(channel: str) -> Any:
    """ "other" = unattributed; "source/medium"; or a bare source or medium."""
    c = calls.c
    text = channel.strip().lower()
    if text == "other":
        return c.source.is_(None)
    return _channel_match(c.source, c.medium, text)


def _channel_match(source_col: Any, medium_col: Any, text: str) -> Any:
    """Case-insensitive: "source/medium", or a bare source or medium."""
    source_col, medium_col = func.lower(source_col), func.lower(medium_col)
    if "/" in text:
        source, _, medium = (p.strip() for p in text.partition("/"))
        return and_(source_col == source, medium_col == medium)
    return or_(source_col == text, medium_col == text)


def list_sessions(conn: Connection, f: Filters) -> tuple[list[Row], str | None]:
    s, n = sessions.c, tracking_numbers.c
    query = (
        select(sessions, n.e164.label("number"))
        .select_from(sessions.outerjoin(tracking_numbers, n.id == s.number_id))
        .where(s.account_id == f.account_id)
    )
    if f.site_id is not None:
        query = query.where(s.site_id == f.site_id)
    if f.channel:
        query = query.where(_channel_match(s.source, s.medium, f.channel.strip().lower()))
    if f.visitor_id is not None:
        query = query.where(s.visitor_id == f.visitor_id)
    rows = [dict(r._mapping) for r in conn.execute(_page(query, s.started_at, s.id, f))]
    return _finish(rows, f)
