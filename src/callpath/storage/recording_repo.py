"""Recordings: the worker's state per call with a recording, and the file it stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.tables import calls, integrations, recordings

Row = dict[str, Any]
r, c, i = recordings.c, calls.c, integrations.c
_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}


def new_references(conn: Connection, since: float, limit: int) -> list[Row]:
    """Calls with a recording reference changed at or after `since` that have no row yet
    (read on the partial index `ix_calls_recording`)."""
    query = (
        select(
            c.id.label("call_id"),
            c.account_id,
            c.recording_url,
            c.updated_at,
            i.kind,
        )
        .join(integrations, i.id == c.integration_id)
        .outerjoin(recordings, r.call_id == c.id)
        .where(c.recording_url.isnot(None), c.updated_at >= since, r.call_id.is_(None))
        .order_by(c.updated_at)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def add(conn: Connection, call_id: str, account_id: int, url: str, state: str, now: float) -> None:
    """A row for the call's reference; a row already there (another worker) is kept."""
    insert = _DIALECTS[conn.dialect.name].insert(recordings)
    values = {
        "call_id": call_id,
        "account_id": account_id,
        "source_url": url,
        "state": state,
        "created_at": now,
    }
    conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["call_id"]))


def claim_due(conn: Connection, now: float, lease: float, limit: int) -> list[Row]:
    """Pending rows whose next attempt is due, each claimed for `lease` seconds so
    workers of other processes skip them; with the integration's kind and secret."""
    query = (
        select(r.call_id, r.account_id, r.source_url, r.attempts, i.kind, i.secret)
        .join(calls, c.id == r.call_id)
        .join(integrations, i.id == c.integration_id)
        .where(r.state == "pending", r.next_attempt_at <= now, r.claimed_until <= now)
        .order_by(r.next_attempt_at)
        .limit(limit)
    )
    claimed = []
    for row in conn.execute(query).all():
        done = conn.execute(
            update(recordings)
            .where(r.call_id == row.call_id, r.claimed_until <= now, r.state == "pending")
            .values(claimed_until=now + lease)
        )
        if done.rowcount == 1:
            claimed.append(dict(row._mapping))
    return claimed


def mark_stored(
    conn: Connection, call_id: str, path: str, content_type: str, size: int, now: float
) -> None:
    conn.execute(
        update(recordings)
        .where(r.call_id == call_id)
        .values(
            state="stored",
            path=path,
            content_type=content_type,
            bytes=size,
            fetched_at=now,
            attempts=r.attempts + 1,
            claimed_until=0,
            last_error=None,
        )
    )


def mark_failed(conn: Connection, call_id: str, error: str, next_attempt_at: float | None) -> None:
    """One failed attempt; `next_attempt_at` None gives up (state `failed`)."""
    values: dict[str, Any] = {
        "attempts": r.attempts + 1,
        "last_error": error[:500],
        "claimed_until": 0,
    }
    if next_attempt_at is None:
        values["state"] = "failed"
    else:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(update(recordings).where(r.call_id == call_id).values(**values))


def expired(conn: Connection, before: float, limit: int) -> list[Row]:
    """Stored files fetched before `before` (retention)."""
    query = (
        select(r.call_id, r.path)
        .where(r.state == "stored", r.fetched_at < before)
        .order_by(r.fetched_at)
        .limit(limit)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def mark_pruned(conn: Connection, call_id: str) -> None:
    conn.execute(update(recordings).where(r.call_id == call_id).values(state="pruned", path=None))


def of_call(conn: Connection, account_id: int, call_id: str) -> Row | None:
    """The call's recording row, only within the account."""
    query = select(recordings).where(r.call_id == call_id, r.account_id == account_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def of_calls(conn: Connection, account_id: int, call_ids: list[str]) -> dict[str, Row]:
    """Recording rows of a page of calls, by call id, only within the account."""
    if not call_ids:
        return {}
    query = select(recordings).where(r.account_id == account_id, r.call_id.in_(call_ids))
    return {row.call_id: dict(row._mapping) for row in conn.execute(query)}
