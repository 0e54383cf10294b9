"""PostgreSQL: pool numbers for several new sessions of one site claimed in one statement.

A group of session starts (`tracking.start_sessions`) used to claim its numbers one
statement after another, each a round trip whose answer the next start waited for. Here
the sessions that look in the same sub-pools take theirs together: the free numbers idle
longest are locked (FOR UPDATE SKIP LOCKED, on the same index as one claim) and handed
out in the sessions' order, so the first session gets the number idle longest, the second
the next, exactly as one after another. The per-client cap is counted in the statement
too: a client's n-th session of the group counts its client's live holds plus the n - 1
before it. Sub-pools are taken in turn, one statement per step, for the sessions the
steps before left without a number.

Only new visitors' sessions come here (no number of their own to get back: `pool_repo.claim`
looks for that first). Atomicity is that of one claim: the rows are locked before the
update re-checks them, and concurrent groups skip each other's locked rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.domain.pool import PoolSettings
from callpath.domain.pool_groups import ANY, Order
from callpath.storage.pool_repo import CLIENT_LIMIT, NO_CAP, Held

_POOL = "n.site_id = %(site_id)s AND n.kind = 'pool' AND n.active"
_FREE = "n.held_until <= %(free_before)s"
# Where a step looks, and the order that runs on ix_numbers_pool_group.
_GROUP = "n.pool_group = %(group)s", "n.pool_group, n.held_until"
_UNGROUPED = "n.pool_group IS NULL", "n.pool_group, n.held_until"
_ANY_GROUP = "TRUE", "n.held_until"


def _statement(where: str, order_by: str) -> str:
    return f"""
WITH want AS (
  SELECT w.session_id, w.visitor, w.client, w.ord
  FROM unnest(%(sessions)s::varchar[], %(visitors)s::varchar[], %(clients)s::varchar[])
    WITH ORDINALITY AS w(session_id, visitor, client, ord)
), live AS (
  SELECT c.client, (
    SELECT count(*) FROM (
      SELECT 1 FROM tracking_numbers m
      WHERE m.site_id = %(site_id)s AND m.held_client = c.client AND m.held_until > %(now)s
      LIMIT %(cap)s) counted
  ) AS held
  FROM (SELECT DISTINCT client FROM want WHERE client IS NOT NULL) c
), ranked AS (
  SELECT want.*, want.client IS NULL OR coalesce(live.held, 0)
    + row_number() OVER (PARTITION BY want.client ORDER BY want.ord) <= %(cap)s AS allowed
  FROM want LEFT JOIN live ON live.client = want.client
), slotted AS (
  SELECT ranked.*, row_number() OVER (ORDER BY ord) AS slot FROM ranked WHERE allowed
), locked AS MATERIALIZED (
  SELECT n.id, n.held_session_id, n.held_since, n.held_until, n.pool_group
  FROM tracking_numbers n
  WHERE {_POOL} AND {_FREE} AND {where}
  ORDER BY {order_by} LIMIT %(k)s FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT locked.*, row_number() OVER (ORDER BY {order_by.replace("n.", "")}, id) AS slot
  FROM locked
), claimed AS (
  UPDATE tracking_numbers n SET
    held_session_id = s.session_id, held_visitor_id = s.visitor, held_client = s.client,
    held_since = greatest(%(now)s, p.held_since),
    held_until = greatest(%(now)s, p.held_since) + %(hold)s
  FROM picked p JOIN slotted s ON s.slot = p.slot
  WHERE n.id = p.id AND {_FREE}
  RETURNING s.ord, n.id, n.e164, n.held_since, n.held_until,
    p.held_session_id AS previous, p.held_until AS previous_until
)
SELECT r.ord, r.allowed, c.id, c.e164, c.held_since, c.held_until, c.previous,
  c.previous_until, (SELECT count(*) FROM locked) AS found
FROM ranked r LEFT JOIN claimed c ON c.ord = r.ord ORDER BY r.ord
"""


_STEP_GROUP = _statement(*_GROUP)
_STEP_UNGROUPED = _statement(*_UNGROUPED)
_STEP_ANY = _statement(*_ANY_GROUP)


@dataclass(frozen=True, slots=True)
class Seeker:
    """A new visitor's session that looks for a pool number; `client`: the client's
    key (`client_limits.client_key`), None for no per-client cap."""

    session_id: str
    visitor: str
    client: str | None = None


def claim_all(
    conn: Connection,
    *,
    site_id: int,
    now: float,
    pool: PoolSettings,
    order: Order,
    seekers: list[Seeker],
    cap: int | None,
) -> list[Held | str | None]:
    """One answer per seeker, as `pool_repo.claim` gives it: the number claimed, or
    CLIENT_LIMIT when its client held `cap` numbers already while a free one was there,
    or None when nothing was free for it."""
    answers: list[Held | str | None] = [None] * len(seekers)
    waiting = list(range(len(seekers)))
    steps: list[tuple[str, str | None]] = [(_STEP_GROUP, group) for group in order.groups]
    steps.append((_STEP_ANY if order.fallback == ANY else _STEP_UNGROUPED, None))
    for sql, group in steps:
        if not waiting:
            break
        rows = _step(conn, sql, group, site_id, now, pool, [seekers[i] for i in waiting], cap)
        claimed = sum(1 for row in rows if row[2] is not None)
        found = rows[0][8] if rows else 0
        still: list[int] = []
        for i, row in zip(waiting, rows, strict=True):
            _ord, allowed, number_id, e164, since, until, previous, previous_until, _ = row
            if number_id is not None:
                cut = previous if previous_until > since else None
                answers[i] = Held(
                    number_id, e164, seekers[i].session_id, seekers[i].visitor, since, until, cut
                )
            elif not allowed and found > claimed:  # a free number was there, not for it
                answers[i] = CLIENT_LIMIT
            else:
                still.append(i)
        waiting = still
    return answers


def _step(
    conn: Connection,
    sql: str,
    group: str | None,
    site_id: int,
    now: float,
    pool: PoolSettings,
    seekers: list[Seeker],
    cap: int | None,
) -> list[tuple[Any, ...]]:
    params = {
        "sessions": [s.session_id for s in seekers],
        "visitors": [s.visitor for s in seekers],
        "clients": [s.client for s in seekers],
        "site_id": site_id,
        "now": float(now),
        "free_before": float(now - pool.cooldown),
        "hold": float(pool.hold_until(0.0)),
        "cap": NO_CAP if cap is None else cap,
        "k": len(seekers),
        "group": group,
    }
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(sql, params)
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows
