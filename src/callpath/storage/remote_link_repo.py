"""What a destination made of ours, by its id there (`remote_links`): the CRM lead a
call became, a call marked sent at most once (`SENT`), a digest queued for a day."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from callpath.storage.tables import remote_links

Row = dict[str, Any]
SENT = "sent"  # a remote link marking a call or deal sent at most once ("call:ID")


def add_link(conn: Connection, values: Row) -> None:
    conn.execute(insert(remote_links).values(**values))


def links_of_call(conn: Connection, dest_id: int, call_id: str) -> list[Row]:
    rl = remote_links.c
    query = (
        select(rl.kind, rl.remote_id)
        .where(rl.destination_id == dest_id, rl.call_id == call_id)
        .order_by(rl.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def has_link(conn: Connection, dest_id: int, kind: str, remote_id: str) -> bool:
    rl = remote_links.c
    query = select(rl.id).where(
        rl.destination_id == dest_id, rl.kind == kind, rl.remote_id == remote_id
    )
    return conn.execute(query).first() is not None


def call_of_remote(conn: Connection, dest_id: int, kind: str, remote_id: str) -> str | None:
    rl = remote_links.c
    query = select(rl.call_id).where(
        rl.destination_id == dest_id, rl.kind == kind, rl.remote_id == remote_id
    )
    found = conn.execute(query).scalar()
    return str(found) if found is not None else None


def drop_link(conn: Connection, dest_id: int, kind: str, remote_id: str) -> None:
    rl = remote_links.c
    conn.execute(
        delete(remote_links).where(
            rl.destination_id == dest_id, rl.kind == kind, rl.remote_id == remote_id
        )
    )


def drop_sent(conn: Connection, dest_id: int, marks: Sequence[str]) -> None:
    """The at-most-once marks (`SENT`) named, dropped: a replay sends again."""
    rl = remote_links.c
    for start in range(0, len(marks), 500):
        conn.execute(
            delete(remote_links).where(
                rl.destination_id == dest_id,
                rl.kind == SENT,
                rl.remote_id.in_(list(marks[start : start + 500])),
            )
        )
