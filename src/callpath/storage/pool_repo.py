"""Atomic pool allocation: the rules of `domain.pool` run inside one locked transaction.

SQLite: every write transaction starts with BEGIN IMMEDIATE (see `db.py`), so only one
writer at a time, in any process, reads and takes numbers. PostgreSQL: the candidate row
is locked with FOR UPDATE SKIP LOCKED, so concurrent allocations take different rows
without waiting on each other, and the update re-checks the row is still free.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, case, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from callpath.domain.pool import PoolSettings
from callpath.storage.tables import reservations, tracking_numbers

n = tracking_numbers.c
r = reservations.c


@dataclass(frozen=True, slots=True)
class Held:
    number_id: int
    e164: str


def _takeable(visitor: str, now: float, pool: PoolSettings) -> ColumnElement[bool]:
    """SQL twin of `domain.pool.available_to`."""
    return or_(
        n.held_visitor_id == visitor,
        n.held_until.is_(None),
        n.held_until + pool.cooldown <= now,
    )


def _pick(
    conn: Connection, site_id: int, visitor: str, now: float, pool: PoolSettings
) -> tuple[int, str, str | None, float] | None:
    query = (
        select(n.id, n.e164, n.held_session_id, n.held_since)
        .where(n.site_id == site_id, n.kind == "pool", n.active, _takeable(visitor, now, pool))
        .order_by(case((n.held_visitor_id == visitor, 0), else_=1), func.coalesce(n.held_until, 0))
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    row = conn.execute(query).first()
    return (row[0], row[1], row[2], row[3] or 0.0) if row else None


def _claim(
    conn: Connection,
    number_id: int,
    session_id: str,
    visitor: str,
    times: tuple[float, float],
    pool: PoolSettings,
) -> bool:
    now, since = times
    result = conn.execute(
        update(tracking_numbers)
        .where(n.id == number_id, _takeable(visitor, now, pool))
        .values(
            held_session_id=session_id,
            held_visitor_id=visitor,
            held_since=since,
            held_until=pool.hold_until(since),
        )
    )
    return result.rowcount == 1


def _close_reservation(conn: Connection, number_id: int, session_id: str, now: float) -> None:
    conn.execute(
        update(reservations)
        .where(r.number_id == number_id, r.session_id == session_id, r.until > now)
        .values(until=now)
    )


def acquire(
    conn: Connection,
    *,
    site_id: int,
    account_id: int,
    session_id: str,
    visitor: str,
    now: float,
    pool: PoolSettings,
) -> Held | None:
    """Give `session_id` a pool number, or None when the pool has nothing free."""
    for _attempt in range(3):
        picked = _pick(conn, site_id, visitor, now, pool)
        if picked is None:
            return None
        number_id, e164, previous, previous_since = picked
        # A hold handed between two sessions of one visitor starts no earlier than the
        # previous one did, whatever clocks the two app servers read: history stays ordered.
        since = max(now, previous_since)
        if not _claim(conn, number_id, session_id, visitor, (now, since), pool):
            continue
        if previous and previous != session_id:
            _close_reservation(conn, number_id, previous, since)
        conn.execute(
            insert(reservations).values(
                account_id=account_id,
                site_id=site_id,
                number_id=number_id,
                session_id=session_id,
                visitor_id=visitor,
                started_at=since,
                last_activity_at=since,
                until=pool.hold_until(since),
            )
        )
        return Held(number_id, e164)
    return None


def extend(
    conn: Connection, *, number_id: int, session_id: str, now: float, pool: PoolSettings
) -> bool:
    """Push the hold forward if `session_id` still holds the number; False if it lost it."""
    until = pool.hold_until(now)
    result = conn.execute(
        update(tracking_numbers)
        .where(n.id == number_id, n.held_session_id == session_id)
        .values(held_until=until)
    )
    if result.rowcount != 1:
        return False
    latest = (
        select(func.max(r.id))
        .where(r.session_id == session_id, r.number_id == number_id)
        .scalar_subquery()
    )
    conn.execute(
        update(reservations).where(r.id == latest).values(last_activity_at=now, until=until)
    )
    return True


def release_soon(
    conn: Connection, *, number_id: int, session_id: str, now: float, pool: PoolSettings
) -> None:
    """The visitor left: the hold now runs `hold_after_leave` from this moment."""
    extend(conn, number_id=number_id, session_id=session_id, now=now, pool=pool)
