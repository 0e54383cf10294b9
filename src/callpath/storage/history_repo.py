"""History written in bulk: visits, visitors, pages and calls that happened already (the
demo's generated months), a few thousand rows per statement instead of one request each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from callpath.storage.tables import (
    call_events,
    calls,
    deals,
    pageviews,
    sessions,
    tracking_numbers,
    visitors,
)

Row = dict[str, Any]
CHUNK = 2000


def has_visits(conn: Connection, site_id: int) -> bool:
    query = select(sessions.c.id).where(sessions.c.site_id == site_id).limit(1)
    return conn.execute(query).first() is not None


def add(
    conn: Connection,
    *,
    visitor_rows: Sequence[Row] = (),
    session_rows: Sequence[Row] = (),
    page_rows: Sequence[Row] = (),
    call_rows: Sequence[Row] = (),
    deal_rows: Sequence[Row] = (),
    event_rows: Sequence[Row] = (),
) -> None:
    """Insert the rows, parents first (visitors, visits, pages, calls and their raw
    events, deals)."""
    for table, rows in (
        (visitors, visitor_rows),
        (sessions, session_rows),
        (pageviews, page_rows),
        (calls, call_rows),
        (call_events, event_rows),
        (deals, deal_rows),
    ):
        for start in range(0, len(rows), CHUNK):
            conn.execute(insert(table), list(rows[start : start + CHUNK]))


def backdate_numbers(conn: Connection, site_id: int, created_at: float) -> None:
    """The site's numbers existed since `created_at` (history older than the numbers
    would be history without them: a static number's monthly cost counts from then)."""
    n = tracking_numbers.c
    conn.execute(
        update(tracking_numbers)
        .where(n.site_id == site_id, n.created_at > created_at)
        .values(created_at=created_at)
    )
