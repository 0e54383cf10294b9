"""The outbox's SQL: destinations, events queued for them, deliveries, their attempts.
Every lookup a user's request makes is scoped by account; the worker's own lookups
(due deliveries) cross accounts, as it serves them all."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from callpath.storage.tables import (
    calls,
    deliveries,
    delivery_attempts,
    destinations,
    leads,
    outbox_events,
    remote_links,
    sessions,
)

Row = dict[str, Any]
ds, ev, dl, at = destinations.c, outbox_events.c, deliveries.c, delivery_attempts.c
PUBLIC = (
    ds.id,
    ds.kind,
    ds.name,
    ds.url,
    ds.events,
    ds.site_id,
    ds.allow_private,
    ds.created_at,
    ds.paused_at,
    ds.paused_reason,
    ds.failing_since,
    ds.failures,
)


# ------------------------------------------------------------------ destinations


def add_destination(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(destinations).values(failures=0, **values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def destinations_of(conn: Connection, account_id: int, kind: str | None = None) -> list[Row]:
    """The account's destinations (never their secrets), with how many deliveries wait
    (`pending`) and gave up (`failed`)."""
    query = select(*PUBLIC).where(ds.account_id == account_id).order_by(ds.id)
    if kind is not None:
        query = query.where(ds.kind == kind)
    rows = [dict(r._mapping) for r in conn.execute(query)]
    counts = _state_counts(conn, [r["id"] for r in rows])
    for row in rows:
        row.update(counts.get(row["id"], {"pending": 0, "failed": 0}))
    return rows


def _state_counts(conn: Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    if not ids:
        return {}
    query = (
        select(dl.destination_id, dl.state, func.count())
        .where(dl.destination_id.in_(ids), dl.state.in_(("pending", "failed")))
        .group_by(dl.destination_id, dl.state)
    )
    found: dict[int, dict[str, int]] = {}
    for dest, state, count in conn.execute(query):
        found.setdefault(int(dest), {"pending": 0, "failed": 0})[str(state)] = int(count)
    return found


def destination(conn: Connection, account_id: int, dest_id: int) -> Row | None:
    """One destination of the account, every column (its secret too)."""
    query = select(destinations).where(ds.account_id == account_id, ds.id == dest_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def remove_destination(conn: Connection, account_id: int, dest_id: int) -> bool:
    """The destination, its deliveries and their attempts (the events stay: others may
    have them)."""
    if destination(conn, account_id, dest_id) is None:
        return False
    mine = select(dl.id).where(dl.destination_id == dest_id).scalar_subquery()
    conn.execute(delete(delivery_attempts).where(at.delivery_id.in_(mine)))
    conn.execute(delete(deliveries).where(dl.destination_id == dest_id))
    conn.execute(delete(remote_links).where(remote_links.c.destination_id == dest_id))
    conn.execute(delete(destinations).where(ds.id == dest_id, ds.account_id == account_id))
    return True


def set_paused(
    conn: Connection, account_id: int, dest_id: int, at_: float | None, reason: str | None
) -> bool:
    values: Row = {"paused_at": at_, "paused_reason": reason}
    if at_ is None:
        values.update(failures=0, failing_since=None)  # resumed: a fresh streak
    result = conn.execute(
        update(destinations).where(ds.account_id == account_id, ds.id == dest_id).values(**values)
    )
    return result.rowcount > 0


def set_config(conn: Connection, account_id: int, dest_id: int, config: Row) -> bool:
    """A destination's settings of its kind (a CRM's token), replaced whole."""
    result = conn.execute(
        update(destinations)
        .where(ds.account_id == account_id, ds.id == dest_id)
        .values(config=config)
    )
    return result.rowcount > 0


def of_kinds(conn: Connection, kinds: Sequence[str]) -> list[Row]:
    """Every account's destinations of these kinds that are not paused, with their config
    (the worker's own lookup: notifications' digests)."""
    query = (
        select(ds.id, ds.account_id, ds.kind, ds.site_id, ds.config)
        .where(ds.kind.in_(list(kinds)), ds.paused_at.is_(None))
        .order_by(ds.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def subscribers(conn: Connection, account_id: int, site_id: int | None) -> list[Row]:
    """The destinations that may take an event of this account and site (any site when
    None): `id`, `events`, `site_id`."""
    query = select(ds.id, ds.events, ds.site_id).where(ds.account_id == account_id)
    if site_id is not None:
        query = query.where(or_(ds.site_id.is_(None), ds.site_id == site_id))
    return [dict(r._mapping) for r in conn.execute(query)]


# ------------------------------------------------------------------ events


def enqueue(conn: Connection, event: Row, destination_ids: Sequence[int], now: float) -> int:
    """The event and one pending delivery per destination, due now."""
    result = conn.execute(insert(outbox_events).values(**event))
    event_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    conn.execute(
        insert(deliveries),
        [
            {
                "account_id": event["account_id"],
                "destination_id": dest,
                "event_id": event_id,
                "state": "pending",
                "attempts": 0,
                "next_at": now,
                "created_at": now,
            }
            for dest in destination_ids
        ],
    )
    return event_id


def call_before(conn: Connection, call_id: str) -> Row | None:
    query = select(calls.c.state, calls.c.session_id, calls.c.match_method).where(
        calls.c.id == call_id
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def session_of(conn: Connection, session_id: str) -> Row | None:
    """The visit behind an event: its channel, landing, ids, device and place."""
    s = sessions.c
    query = select(
        s.id,
        s.visitor_id,
        s.started_at,
        s.landing_url,
        s.referrer,
        s.source,
        s.medium,
        s.campaign,
        s.keyword,
        s.content,
        s.utm,
        s.click_ids,
        s.client_ids,
        s.device,
        s.country,
        s.region,
        s.city,
        s.visit_code,
    ).where(s.id == session_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def call_of(conn: Connection, call_id: str) -> Row | None:
    query = select(calls).where(calls.c.id == call_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def verdicts(conn: Connection, lead_ids: Sequence[str]) -> dict[str, Row]:
    """What the leads counted as when last saved (the ones that exist)."""
    c = leads.c
    found: dict[str, Row] = {}
    for start in range(0, len(lead_ids), 500):
        chunk = list(lead_ids[start : start + 500])
        query = select(c.id, c.first_time, c.target, c.missed, c.abandoned, c.lost, c.spam).where(
            c.id.in_(chunk)
        )
        found.update({str(r.id): dict(r._mapping) for r in conn.execute(query)})
    return found


# ------------------------------------------------------------------ the worker


def due(conn: Connection, now: float, limit: int) -> list[Row]:
    """Pending deliveries due now, of destinations not paused and not leased by another
    worker, oldest event first; with what sending them needs."""
    query = (
        select(
            dl.id,
            dl.account_id,
            dl.attempts,
            dl.created_at,
            dl.destination_id,
            ds.kind,
            ds.site_id.label("destination_site_id"),
            ds.url,
            ds.secret,
            ds.allow_private,
            ds.config,
            ev.id.label("event_id"),
            ev.type,
            ev.subject,
            ev.site_id,
            ev.payload,
            ev.created_at.label("event_at"),
        )
        .select_from(
            deliveries.join(destinations, ds.id == dl.destination_id).join(
                outbox_events, ev.id == dl.event_id
            )
        )
        .where(
            dl.state == "pending",
            dl.next_at <= now,
            ds.paused_at.is_(None),
            or_(dl.lease_until.is_(None), dl.lease_until < now),
        )
        .order_by(dl.next_at, dl.id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def lease(conn: Connection, ids: Sequence[int], until: float, now: float) -> list[int]:
    """The deliveries this worker now holds until `until` (another may have taken some)."""
    held = []
    for delivery_id in ids:
        result = conn.execute(
            update(deliveries)
            .where(
                dl.id == delivery_id,
                dl.state == "pending",
                or_(dl.lease_until.is_(None), dl.lease_until < now),
            )
            .values(lease_until=until)
        )
        if result.rowcount:
            held.append(delivery_id)
    return held


def release(conn: Connection, ids: Sequence[int], next_at: float) -> None:
    """Deliveries not tried this round (their destination failed first): due later."""
    if ids:
        conn.execute(
            update(deliveries)
            .where(dl.id.in_(list(ids)), dl.state == "pending")
            .values(lease_until=None, next_at=next_at)
        )


def note(conn: Connection, delivery_id: int, text: str) -> None:
    """Why a delivery waits (shown in the log as its last error)."""
    conn.execute(update(deliveries).where(dl.id == delivery_id).values(last_error=text))


def record_attempt(conn: Connection, delivery: Row, attempt: Row, outcome: Row) -> None:
    """The attempt, and the delivery's new state (`outcome`: state, attempts, next_at,
    delivered_at, last_error)."""
    conn.execute(insert(delivery_attempts).values(**attempt))
    conn.execute(
        update(deliveries).where(dl.id == delivery["id"]).values(lease_until=None, **outcome)
    )


def destination_succeeded(conn: Connection, dest_id: int) -> None:
    conn.execute(
        update(destinations)
        .where(ds.id == dest_id, or_(ds.failures != 0, ds.failing_since.is_not(None)))
        .values(failures=0, failing_since=None)
    )


def destination_failed(conn: Connection, dest_id: int, now: float) -> Row:
    """Counted; the streak as it now stands (`failing_since`, `failures`)."""
    conn.execute(
        update(destinations)
        .where(ds.id == dest_id)
        .values(
            failures=ds.failures + 1,
            failing_since=func.coalesce(ds.failing_since, now),
        )
    )
    row = conn.execute(
        select(ds.account_id, ds.failing_since, ds.failures, ds.paused_at).where(ds.id == dest_id)
    ).one()
    return dict(row._mapping)


def account_of(conn: Connection, dest_id: int) -> int | None:
    """The account a destination belongs to (the command line speaks for them all)."""
    found = conn.execute(select(ds.account_id).where(ds.id == dest_id)).scalar()
    return int(found) if found is not None else None


def webhook_secret(conn: Connection, dest_id: int) -> Row | None:
    """A webhook's account and secret (a CRM signs the deals it sends back with it)."""
    query = select(ds.account_id, ds.secret).where(ds.id == dest_id, ds.kind == "webhook")
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None
