"""Read-side queries for the admin pages: pool state and recent sessions of a site."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from callpath.storage.tables import session_events, sessions, tracking_numbers

Row = dict[str, Any]


def pool_state(
    conn: Connection, account_id: int, site_id: int, now: float, cooldown: float = 0.0
) -> list[Row]:
    """The site's numbers; a pool number is held, resting (released less than `cooldown`
    ago: only its last visitor may have it) or free."""
    n = tracking_numbers.c
    rows = conn.execute(
        select(
            n.id,
            n.e164,
            n.kind,
            n.label,
            n.channel_source,
            n.channel_medium,
            n.forward_to,
            n.active,
            n.held_until,
            n.held_session_id,
            n.pool_group,
        )
        .where(n.account_id == account_id, n.site_id == site_id)
        .order_by(n.kind, n.e164)
    )
    out = []
    for r in rows:
        row = dict(r._mapping)
        row["held"] = row["held_until"] > now
        row["held_for"] = int(row["held_until"] - now) if row["held"] else 0
        rest_end = row["held_until"] + cooldown if row["held_until"] > 0 else 0.0
        row["resting_for"] = int(rest_end - now) if not row["held"] and rest_end > now else 0
        out.append(row)
    return out


def recent_sessions(conn: Connection, account_id: int, site_id: int, limit: int = 50) -> list[Row]:
    s, n = sessions.c, tracking_numbers.c
    rows = conn.execute(
        select(
            s.id,
            s.started_at,
            s.source,
            s.medium,
            s.campaign,
            s.keyword,
            s.landing_url,
            s.device,
            s.browser,
            s.country,
            s.region,
            s.city,
            s.number_reason,
            n.e164,
        )
        .select_from(sessions.outerjoin(tracking_numbers, n.id == s.number_id))
        .where(s.account_id == account_id, s.site_id == site_id)
        .order_by(s.started_at.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def exhaustions(conn: Connection, account_id: int, site_id: int, since: float) -> int:
    e = session_events.c
    count = conn.execute(
        select(func.count()).where(
            e.account_id == account_id,
            e.site_id == site_id,
            e.kind == "pool_exhausted",
            e.at >= since,
        )
    ).scalar_one()
    return int(count)
