"""A destination's delivery log read (deliveries with their event and last attempt, one
delivery's attempts) and deliveries sent again. Every lookup is scoped by account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from callpath.storage import remote_link_repo
from callpath.storage.tables import deliveries, delivery_attempts, outbox_events

Row = dict[str, Any]
ev, dl, at = outbox_events.c, deliveries.c, delivery_attempts.c


def log(
    conn: Connection,
    account_id: int,
    dest_id: int,
    limit: int,
    state: str | None = None,
    before: int | None = None,
) -> list[Row]:
    """A destination's deliveries, newest first, with their event and last attempt."""
    last = (
        select(func.max(at.id))
        .where(at.delivery_id == dl.id)
        .correlate(deliveries)
        .scalar_subquery()
    )
    latest = delivery_attempts.alias("latest")
    query = (
        select(
            dl.id,
            dl.state,
            dl.attempts,
            dl.next_at,
            dl.created_at,
            dl.delivered_at,
            dl.last_error,
            ev.id.label("event_id"),
            ev.type,
            ev.subject,
            ev.created_at.label("event_at"),
            latest.c.status.label("last_status"),
            latest.c.latency_ms.label("last_latency_ms"),
        )
        .select_from(
            deliveries.join(outbox_events, ev.id == dl.event_id).outerjoin(
                latest, latest.c.id == last
            )
        )
        .where(dl.account_id == account_id, dl.destination_id == dest_id)
        .order_by(dl.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(dl.state == state)
    if before is not None:
        query = query.where(dl.id < before)
    return [dict(r._mapping) for r in conn.execute(query)]


def delivery(conn: Connection, account_id: int, delivery_id: int) -> Row | None:
    query = (
        select(
            dl.id,
            dl.destination_id,
            dl.state,
            dl.attempts,
            dl.next_at,
            dl.created_at,
            dl.delivered_at,
            dl.last_error,
            ev.id.label("event_id"),
            ev.type,
            ev.subject,
            ev.payload,
            ev.created_at.label("event_at"),
        )
        .select_from(deliveries.join(outbox_events, ev.id == dl.event_id))
        .where(dl.account_id == account_id, dl.id == delivery_id)
    )
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def attempts_of(conn: Connection, account_id: int, delivery_id: int) -> list[Row]:
    query = (
        select(at.id, at.at, at.status, at.ok, at.latency_ms, at.excerpt)
        .where(at.account_id == account_id, at.delivery_id == delivery_id)
        .order_by(at.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def replay(
    conn: Connection,
    account_id: int,
    dest_id: int,
    now: float,
    delivery_id: int | None = None,
    since: float | None = None,
    until: float | None = None,
) -> int:
    """Send again: one delivery, or the destination's deliveries whose event happened in
    [since, until). Due now, with a fresh retry horizon; how many. A replay is a
    deliberate resend: the at-most-once marks (`SENT`) of those events' calls and deals
    go too."""
    conditions = [dl.account_id == account_id, dl.destination_id == dest_id]
    if delivery_id is not None:
        conditions.append(dl.id == delivery_id)
    if since is not None or until is not None:
        in_period = select(ev.id).where(
            and_(
                ev.account_id == account_id,
                ev.created_at >= (since if since is not None else 0.0),
                ev.created_at < (until if until is not None else 1e12),
            )
        )
        conditions.append(dl.event_id.in_(in_period.scalar_subquery()))
    subjects = select(ev.subject).where(
        ev.id.in_(select(dl.event_id).where(*conditions).scalar_subquery())
    )
    marks = [f"{kind}:{s}" for (s,) in conn.execute(subjects) for kind in ("call", "deal")]
    remote_link_repo.drop_sent(conn, dest_id, marks)
    result = conn.execute(
        update(deliveries)
        .where(*conditions)
        .values(state="pending", next_at=now, created_at=now, lease_until=None, attempts=0)
    )
    return int(result.rowcount)
