"""Conversion feeds: a site's conversions file that an ad platform fetches with a
username and password. Rows are found by their id (the feed's public username) and
carry their account and site, which every read of the feed's calls is scoped by."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from callpath.storage.tables import conversion_feeds, sites

Row = dict[str, Any]
f, s = conversion_feeds.c, sites.c
_FEED = (
    f.id,
    f.account_id,
    f.site_id,
    f.kind,
    f.conversion_name,
    f.days,
    f.all_calls,
    f.created_at,
    f.last_fetched_at,
    s.key.label("site_key"),
    s.timezone,
    s.currency,
)
_JOINED = conversion_feeds.join(sites, (s.id == f.site_id) & (s.account_id == f.account_id))


def insert_feed(conn: Connection, values: Row) -> None:
    conn.execute(insert(conversion_feeds).values(**values))


def taken(conn: Connection, feed_id: str) -> bool:
    """Whether a feed (live or removed) has this id."""
    return conn.execute(select(f.id).where(f.id == feed_id)).first() is not None


def live_feed(conn: Connection, feed_id: str) -> Row | None:
    """A feed that was not removed, with its site's key, timezone and currency and the
    hash of its password (`secret_hash`)."""
    row = conn.execute(
        select(*_FEED, f.secret_hash)
        .select_from(_JOINED)
        .where(f.id == feed_id, f.removed_at.is_(None))
    ).first()
    return dict(row._mapping) if row else None


def live_feeds(conn: Connection, site_id: int | None = None) -> list[Row]:
    """The feeds not removed (of one site, or of every site), oldest first; no hashes."""
    query = select(*_FEED).select_from(_JOINED).where(f.removed_at.is_(None))
    if site_id is not None:
        query = query.where(f.site_id == site_id)
    return [dict(r._mapping) for r in conn.execute(query.order_by(f.created_at, f.id))]


def remove_feed(conn: Connection, feed_id: str, now: float) -> bool:
    """Mark a live feed removed; False if there is none by this id."""
    result = conn.execute(
        update(conversion_feeds)
        .where(f.id == feed_id, f.removed_at.is_(None))
        .values(removed_at=now)
    )
    return bool(result.rowcount)


def touch_feed(conn: Connection, feed_id: str, now: float) -> None:
    conn.execute(update(conversion_feeds).where(f.id == feed_id).values(last_fetched_at=now))
