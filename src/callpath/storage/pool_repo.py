"""Atomic pool allocation: who may take which number, decided inside one transaction.

SQLite: every write transaction starts with BEGIN IMMEDIATE (see `db.py`), so only one
writer at a time, in any process, reads and takes numbers. PostgreSQL: the candidate row
is locked with FOR UPDATE SKIP LOCKED, so concurrent allocations take different rows
without waiting on each other, and the update re-checks the row is still free.

This is the tracker's hot path: statements are compiled once per dialect and run on the
driver's cursor (`prepared.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from callpath.domain.pool import PoolSettings
from callpath.storage.prepared import Prepared
from callpath.storage.tables import reservations, tracking_numbers

n = tracking_numbers.c
r = reservations.c

# Takeable: the visitor's own number (held or lapsed), or one whose hold ended at least a
# cooldown ago (`b_free_before` = now - cooldown; a never-held number has held_until 0).
# Both lookups below run on an index.
_TAKEABLE = or_(
    n.held_visitor_id == bindparam("b_visitor"),
    n.held_until <= bindparam("b_free_before"),
)
_POOL = (n.site_id == bindparam("b_site_id"), n.kind == "pool", n.active)
_COLUMNS = (n.id, n.e164, n.held_session_id, n.held_since)
_PICK_OWN = select(*_COLUMNS).where(*_POOL, n.held_visitor_id == bindparam("b_visitor")).limit(1)
_PICK_FREE = (
    select(*_COLUMNS)
    .where(*_POOL, n.held_until <= bindparam("b_free_before"))
    .order_by(n.held_until)
    .limit(1)
)
_PICK_RANDOM = (
    select(*_COLUMNS)
    .where(*_POOL, n.held_until <= bindparam("b_free_before"))
    .order_by(func.random())
    .limit(1)
)
_PICKS = {
    "sqlite": (Prepared(_PICK_OWN), Prepared(_PICK_FREE), Prepared(_PICK_RANDOM)),
    "postgresql": (
        Prepared(_PICK_OWN.with_for_update(skip_locked=True)),
        Prepared(_PICK_FREE.with_for_update(skip_locked=True)),
        Prepared(_PICK_RANDOM.with_for_update(skip_locked=True)),
    ),
}
_CLAIM = Prepared(
    update(tracking_numbers)
    .where(n.id == bindparam("b_number_id"), _TAKEABLE)
    .values(
        held_session_id=bindparam("b_session_id"),
        held_visitor_id=bindparam("b_visitor"),
        held_since=bindparam("b_since"),
        held_until=bindparam("b_until"),
    )
)
_CLOSE = Prepared(
    update(reservations)
    .where(
        r.number_id == bindparam("b_number_id"),
        r.session_id == bindparam("b_previous"),
        r.until > bindparam("b_since"),
    )
    .values(until=bindparam("b_since"))
)
_RESERVE = Prepared(insert(reservations))
_EXTEND_NUMBER = Prepared(
    update(tracking_numbers)
    .where(n.id == bindparam("b_number_id"), n.held_session_id == bindparam("b_session_id"))
    .values(held_until=bindparam("b_until"))
)
_LATEST = (
    select(func.max(r.id))
    .where(r.session_id == bindparam("b_session_id"), r.number_id == bindparam("b_number_id"))
    .scalar_subquery()
)
_EXTEND_RESERVATION = Prepared(
    update(reservations)
    .where(r.id == _LATEST)
    .values(last_activity_at=bindparam("b_now"), until=bindparam("b_until"))
)


@dataclass(frozen=True, slots=True)
class Held:
    """A number just claimed for a session; `record` writes it into the history."""

    number_id: int
    e164: str
    session_id: str
    visitor: str
    since: float
    until: float
    previous: str | None


def claim(
    conn: Connection,
    *,
    site_id: int,
    session_id: str,
    visitor: str,
    now: float,
    pool: PoolSettings,
    returning: bool = True,
) -> Held | None:
    """Take a pool number for `session_id`, or None when the pool has nothing free.

    The caller must `record` the hold in the same transaction.
    """
    pick_own, pick_idle, pick_random = _PICKS[conn.dialect.name]
    pick_free = pick_random if pool.selection == "random" else pick_idle
    returning = returning and pool.sticky
    params = {"b_site_id": site_id, "b_visitor": visitor, "b_free_before": now - pool.cooldown}
    for _attempt in range(3):
        # The visitor's own number first (still held, or back after it lapsed), else the
        # free number idle longest. A brand-new visitor has no number of its own.
        row = pick_own.run(conn, params).fetchone() if returning else None
        row = row or pick_free.run(conn, params).fetchone()
        if row is None:
            return None
        number_id, e164, previous, previous_since = row
        # A hold handed between two sessions of one visitor starts no earlier than the
        # previous one did, whatever clocks the two app servers read: history stays ordered.
        since = max(now, previous_since or 0.0)
        until = pool.hold_until(since)
        taken = {
            **params,
            "b_number_id": number_id,
            "b_session_id": session_id,
            "b_since": since,
            "b_until": until,
        }
        if _CLAIM.run(conn, taken).rowcount == 1:
            return Held(number_id, e164, session_id, visitor, since, until, previous)
    return None


def record(conn: Connection, held: Held, *, account_id: int, site_id: int) -> None:
    """Append the hold to the reservation history, closing the one it took over."""
    if held.previous and held.previous != held.session_id:
        _CLOSE.run(
            conn,
            {"b_number_id": held.number_id, "b_previous": held.previous, "b_since": held.since},
        )
    _RESERVE.run(
        conn,
        {
            "account_id": account_id,
            "site_id": site_id,
            "number_id": held.number_id,
            "session_id": held.session_id,
            "visitor_id": held.visitor,
            "started_at": held.since,
            "last_activity_at": held.since,
            "until": held.until,
        },
    )


def extend(
    conn: Connection, *, number_id: int, session_id: str, now: float, pool: PoolSettings
) -> bool:
    """Push the hold forward if `session_id` still holds the number; False if it lost it.

    `leave` uses this too: after the last sign of life the hold runs `hold_after_leave`.
    """
    params = {
        "b_number_id": number_id,
        "b_session_id": session_id,
        "b_now": now,
        "b_until": pool.hold_until(now),
    }
    if _EXTEND_NUMBER.run(conn, params).rowcount != 1:
        return False
    _EXTEND_RESERVATION.run(conn, params)
    return True
