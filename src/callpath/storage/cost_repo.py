"""Ad spend per site, day and channel."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from callpath.storage.tables import costs

Row = dict[str, Any]
k = costs.c


def replace(
    conn: Connection, site_id: int, origin: str, first: str, last: str, rows: Sequence[Row]
) -> int:
    """The origin's costs of days first..last (YYYY-MM-DD) become `rows`; how many went."""
    gone = conn.execute(
        delete(costs).where(k.site_id == site_id, k.origin == origin, k.day >= first, k.day <= last)
    ).rowcount
    for start in range(0, len(rows), 1000):
        conn.execute(insert(costs), list(rows[start : start + 1000]))
    return int(gone or 0)


def daily(conn: Connection, site_id: int, first: str, last: str) -> list[Row]:
    """Spend per day and channel, summed over origins and rows."""
    query = (
        select(
            k.day,
            k.source,
            k.medium,
            k.campaign,
            func.sum(k.amount_cents).label("amount_cents"),
            func.sum(k.clicks).label("clicks"),
        )
        .where(k.site_id == site_id, k.day >= first, k.day <= last)
        .group_by(k.day, k.source, k.medium, k.campaign)
        .order_by(k.day, k.source, k.medium, k.campaign)
    )
    return [dict(r._mapping) for r in conn.execute(query)]
