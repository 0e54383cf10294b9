"""Invitations to become a user of an account, keyed by their link's hash (the link
itself is never stored). Every lookup by id is scoped by account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from callpath.storage.tables import invitations, users

Row = dict[str, Any]
i, u = invitations.c, users.c


def insert_invitation(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(invitations).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def pending(conn: Connection, account_id: int, now: float) -> list[Row]:
    """The account's unused, unexpired invitations with who made them, oldest first."""
    query = (
        select(i.id, i.email, i.role, i.created_at, i.expires_at, u.email.label("invited_by"))
        .select_from(invitations.join(users, u.id == i.created_by))
        .where(i.account_id == account_id, i.used_at.is_(None), i.expires_at > now)
        .order_by(i.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def by_hash(conn: Connection, token_hash: str) -> Row | None:
    """The invitation with this link, whatever its state, every column."""
    row = conn.execute(select(invitations).where(i.token_hash == token_hash)).first()
    return dict(row._mapping) if row else None


def is_pending(conn: Connection, account_id: int, token_hash: str, now: float) -> bool:
    query = select(i.id).where(
        i.account_id == account_id,
        i.token_hash == token_hash,
        i.used_at.is_(None),
        i.expires_at > now,
    )
    return conn.execute(query).first() is not None


def claim(conn: Connection, token_hash: str, now: float) -> bool:
    """Mark the invitation used if it still may be (unused, unexpired): one statement,
    so of two acceptances at once only one claims it."""
    result = conn.execute(
        update(invitations)
        .where(i.token_hash == token_hash, i.used_at.is_(None), i.expires_at > now)
        .values(used_at=now)
    )
    return bool(result.rowcount)


def withdraw(conn: Connection, account_id: int, invitation_id: int) -> bool:
    """Delete an unused invitation of the account; False when there is none."""
    result = conn.execute(
        delete(invitations).where(
            i.id == invitation_id, i.account_id == account_id, i.used_at.is_(None)
        )
    )
    return bool(result.rowcount)


def withdraw_for(conn: Connection, account_id: int, email: str) -> None:
    """Delete the account's unused invitations of `email` (a new one replaces them)."""
    conn.execute(
        delete(invitations).where(i.account_id == account_id, i.email == email, i.used_at.is_(None))
    )
