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
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, or_, select, true, update

from callpath.domain.pool import PoolSettings
from callpath.domain.pool_groups import ANY, Order
from callpath.storage.prepared import InsertRows, Prepared
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
# How many of the site's numbers the client holds now, on ix_numbers_client (index only).
# It rides along every pick, so the per-client cap costs no statement of its own; it is
# uncorrelated, so both databases count once per statement.
_mine = tracking_numbers.alias("mine")
# Counted up to the cap (`b_cap`): past it the answer is the same, and a client near its
# cap costs no longer scan than the cap.
_CLIENT_HELD = (
    select(func.count())
    .select_from(
        select(_mine.c.id)
        .where(
            _mine.c.site_id == bindparam("b_site_id"),
            _mine.c.held_client == bindparam("b_client"),
            _mine.c.held_until > bindparam("b_now"),
        )
        .limit(bindparam("b_cap"))
        .subquery()
    )
    .scalar_subquery()
    .label("client_held")
)
_COLUMNS = (
    n.id,
    n.e164,
    n.held_session_id,
    n.held_since,
    n.pool_group,
    n.held_client,
    n.held_until,
    _CLIENT_HELD,
)
# A visitor holds few numbers (one per live session); the service keeps the first one its
# session may use (`Order.allows`).
_OWN_ROWS = 8
_PICK_OWN = (
    select(*_COLUMNS).where(*_POOL, n.held_visitor_id == bindparam("b_visitor")).limit(_OWN_ROWS)
)
_FREE = n.held_until <= bindparam("b_free_before")


def _idle_longest(*where: Any) -> Select[Any]:
    # On (site_id, kind, active, pool_group, held_until): with the group fixed (= or IS
    # NULL) the index is in held_until order. ORDER BY pool_group first changes nothing
    # for one group, and tells PostgreSQL so (it does not treat IS NULL as a constant).
    return (
        select(*_COLUMNS).where(*_POOL, _FREE, *where).order_by(n.pool_group, n.held_until).limit(1)
    )


_PICK_GROUP = _idle_longest(n.pool_group == bindparam("b_group"))
_PICK_UNGROUPED = _idle_longest(n.pool_group.is_(None))
# Any group (a site without ungrouped numbers): idle longest across the groups, sorted.
_PICK_ANY = select(*_COLUMNS).where(*_POOL, _FREE).order_by(n.held_until).limit(1)
_PICK_RANDOM = select(*_COLUMNS).where(*_POOL, _FREE).order_by(func.random()).limit(1)


@dataclass(frozen=True, slots=True)
class _Picks:
    own: Prepared
    group: Prepared
    ungrouped: Prepared
    any: Prepared
    random: Prepared


def _prepare(locking: bool) -> _Picks:
    def prep(stmt: Select[Any]) -> Prepared:
        return Prepared(stmt.with_for_update(skip_locked=True) if locking else stmt)

    return _Picks(
        *(prep(s) for s in (_PICK_OWN, _PICK_GROUP, _PICK_UNGROUPED, _PICK_ANY, _PICK_RANDOM))
    )


_PICKS = {"sqlite": _prepare(False), "postgresql": _prepare(True)}
NO_CAP = 2**31 - 1  # no per-client cap: more than a pool can hold


def _pick_and_claim(pick: Select[Any]) -> Prepared:
    """PostgreSQL: pick a free number and claim it in one statement, so taking it costs
    no round trip of its own (the session start's other statements and its COMMIT share
    theirs, `db.pipelined`). As in two steps, the row is locked (SKIP LOCKED) before the
    update re-checks it. The answer: no row when nothing is free; else the claim (NULLs
    when the client holds its cap already), the previous holder and its hold's end as
    they were, and the client's count. `b_hold`: the hold's length
    (`PoolSettings.hold_until`)."""
    picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
    since = func.greatest(bindparam("b_now"), picked.c.held_since)
    claimed = (
        update(tracking_numbers)
        .where(n.id == picked.c.id, _TAKEABLE, picked.c.client_held < bindparam("b_cap"))
        .values(
            held_session_id=bindparam("b_session_id"),
            held_visitor_id=bindparam("b_visitor"),
            held_client=bindparam("b_client"),
            held_since=since,
            held_until=since + bindparam("b_hold"),
        )
        .returning(n.id, n.e164, n.held_since, n.held_until)
        .cte("claimed")
    )
    return Prepared(
        select(
            claimed.c.id,
            claimed.c.e164,
            picked.c.held_session_id,
            claimed.c.held_since,
            claimed.c.held_until,
            picked.c.held_until,
            picked.c.client_held,
        ).select_from(picked.outerjoin(claimed, true()))
    )


_TAKE_FREE = _Picks(
    _PICKS["postgresql"].own,  # not used: the visitor's own numbers are ranked in Python
    *(_pick_and_claim(s) for s in (_PICK_GROUP, _PICK_UNGROUPED, _PICK_ANY, _PICK_RANDOM)),
)
_Found = tuple[Any, ...] | None  # a DB-API row of _COLUMNS
_CLAIM = Prepared(
    update(tracking_numbers)
    .where(n.id == bindparam("b_number_id"), _TAKEABLE)
    .values(
        held_session_id=bindparam("b_session_id"),
        held_visitor_id=bindparam("b_visitor"),
        held_client=bindparam("b_client"),
        held_since=bindparam("b_since"),
        held_until=bindparam("b_until"),
    )
    .returning(n.id)  # read, not rowcount: in a pipeline the count comes with the result
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
_RESERVE_ROWS = InsertRows.into(reservations)
_EXTEND_NUMBER = Prepared(
    update(tracking_numbers)
    .where(n.id == bindparam("b_number_id"), n.held_session_id == bindparam("b_session_id"))
    .values(held_until=bindparam("b_until"))
    .returning(n.id)
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
    previous: str | None  # the session whose hold it cut short (its history is closed)


@dataclass(frozen=True, slots=True)
class Client:
    """Who asks (`client_limits.client_key`) and how many numbers it may hold at once."""

    key: str
    cap: int


CLIENT_LIMIT = "client_limit"


def claim(
    conn: Connection,
    *,
    site_id: int,
    session_id: str,
    visitor: str,
    now: float,
    pool: PoolSettings,
    returning: bool = True,
    order: Order,
    client: Client | None = None,
) -> Held | str | None:
    """Take a pool number for `session_id`; None when the pool has nothing free, or
    CLIENT_LIMIT when `client` holds its cap of numbers already.

    `order`: the sub-pools the session may take from, in turn (`domain/pool_groups.py`);
    the random selection (the naive reference) ignores groups. The caller must `record`
    the hold in the same transaction. The cap is counted in the pick's own statement:
    exact on SQLite (one writer); on PostgreSQL, starts of one client running at the
    same instant each count the holds committed before them, so a burst may pass the
    cap by its concurrency minus one, for as long as those holds last (it cannot build
    up: every later start counts them).
    """
    picks = _PICKS[conn.dialect.name]
    returning = returning and pool.sticky
    params = {
        "b_site_id": site_id,
        "b_visitor": visitor,
        "b_free_before": now - pool.cooldown,
        "b_client": client.key if client else None,
        "b_now": now,
        "b_cap": client.cap if client else NO_CAP,
    }
    for _attempt in range(3):
        # The visitor's own number first (still held, or back after it lapsed) if its
        # group suits this session, else the free number idle longest, group by group.
        row = _own(conn, picks, params, order) if returning else None
        if row is None and conn.dialect.name == "postgresql":
            return _take_free(conn, params, order, pool, session_id, visitor, client)
        row = row or _free(conn, picks, params, order, pool.selection)
        if row is None:
            return None
        number_id, e164, previous, previous_since, _group, holder, held_until, held = row
        if client and held >= client.cap and not (holder == client.key and held_until > now):
            return CLIENT_LIMIT  # a number it holds already does not add to its count
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
        if _CLAIM.run(conn, taken).fetchone() is not None:
            cut = previous if held_until > since else None
            return Held(number_id, e164, session_id, visitor, since, until, cut)
    return None


def _take_free(
    conn: Connection,
    params: dict[str, Any],
    order: Order,
    pool: PoolSettings,
    session_id: str,
    visitor: str,
    client: Client | None,
) -> Held | str | None:
    """PostgreSQL: the free number idle longest, picked and claimed at once, unless the
    client holds its cap already (counted in the same statement)."""
    claiming = {
        **params,
        "b_session_id": session_id,
        "b_hold": pool.hold_until(0.0),
    }
    row = _free(conn, _TAKE_FREE, claiming, order, pool.selection)
    if row is None:
        return None
    number_id, e164, previous, since, until, previous_until, held = row
    if number_id is None:  # a free number, not claimed: the client is at its cap
        return CLIENT_LIMIT if client is not None and held >= client.cap else None
    cut = previous if previous_until > since else None
    return Held(number_id, e164, session_id, visitor, since, until, cut)


def _own(conn: Connection, picks: _Picks, params: dict[str, Any], order: Order) -> _Found:
    """The visitor's own number this session may use, the best-ranked if it has several."""
    rows = [r for r in picks.own.run(conn, params).fetchall() if order.allows(r[4])]
    return min(rows, key=lambda r: order.rank(r[4])) if rows else None


def _free(
    conn: Connection, picks: _Picks, params: dict[str, Any], order: Order, selection: str
) -> _Found:
    """The free number idle longest: from the session's groups in turn, then the fallback
    (random for the naive reference, which ignores groups)."""
    if selection == "random":
        return _one(conn, picks.random, params)
    for group in order.groups:
        row = _one(conn, picks.group, {**params, "b_group": group})
        if row is not None:
            return row
    return _one(conn, picks.any if order.fallback == ANY else picks.ungrouped, params)


def _one(conn: Connection, pick: Prepared, params: dict[str, Any]) -> _Found:
    row: _Found = pick.run(conn, params).fetchone()
    return row


def record(conn: Connection, held: Held, *, account_id: int, site_id: int) -> None:
    """Append the hold to the reservation history, closing the one it took over."""
    record_all(conn, [held], account_id=account_id, site_id=site_id)


def record_all(conn: Connection, holds: list[Held], *, account_id: int, site_id: int) -> None:
    """`record` for several holds of one site: the new ones in one statement."""
    for held in holds:
        if held.previous and held.previous != held.session_id:
            _CLOSE.run(
                conn,
                {"b_number_id": held.number_id, "b_previous": held.previous, "b_since": held.since},
            )
    _RESERVE_ROWS.run(
        conn,
        [
            {
                "account_id": account_id,
                "site_id": site_id,
                "number_id": held.number_id,
                "session_id": held.session_id,
                "visitor_id": held.visitor,
                "started_at": held.since,
                "last_activity_at": held.since,
                "until": held.until,
            }
            for held in holds
        ],
    )


def extend(
    conn: Connection,
    *,
    number_id: int,
    session_id: str,
    now: float,
    pool: PoolSettings,
    until: float | None = None,
) -> bool:
    """Push the hold forward if `session_id` still holds the number; False if it lost it.

    `leave` uses this too: after the last sign of life the hold runs `hold_after_leave`
    (or ends at `until`: a page that showed no sign of a person).
    """
    params = {
        "b_number_id": number_id,
        "b_session_id": session_id,
        "b_now": now,
        "b_until": pool.hold_until(now) if until is None else until,
    }
    if _EXTEND_NUMBER.run(conn, params).fetchone() is None:
        return False
    _EXTEND_RESERVATION.run(conn, params)
    return True
