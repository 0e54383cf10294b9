"""Password reset links, keyed by their hash (the link itself is never stored). Every
lookup by id is scoped by account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from callpath.storage.tables import password_resets, users

Row = dict[str, Any]
r = password_resets.c
person, maker = users.alias("person"), users.alias("maker")


def insert_reset(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(password_resets).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def pending(conn: Connection, account_id: int, now: float) -> list[Row]:
    """The account's unused, unexpired links: whose (`email`), who made them (`made_by`,
    None: the command line), when they expire; oldest first."""
    query = (
        select(r.id, person.c.email, r.created_at, r.expires_at, maker.c.email.label("made_by"))
        .select_from(
            password_resets.join(person, person.c.id == r.user_id).outerjoin(
                maker, maker.c.id == r.created_by
            )
        )
        .where(r.account_id == account_id, r.used_at.is_(None), r.expires_at > now)
        .order_by(r.id)
    )
    return [dict(row._mapping) for row in conn.execute(query)]


def by_hash(conn: Connection, token_hash: str) -> Row | None:
    """The link with this hash, whatever its state, every column."""
    row = conn.execute(select(password_resets).where(r.token_hash == token_hash)).first()
    return dict(row._mapping) if row else None


def pending_email(conn: Connection, account_id: int, token_hash: str, now: float) -> str | None:
    """The e-mail of the user whose unused, unexpired link of the account this is."""
    query = (
        select(person.c.email)
        .select_from(password_resets.join(person, person.c.id == r.user_id))
        .where(
            r.account_id == account_id,
            r.token_hash == token_hash,
            r.used_at.is_(None),
            r.expires_at > now,
        )
    )
    email = conn.execute(query).scalar()
    return None if email is None else str(email)


def claim(conn: Connection, token_hash: str, now: float) -> bool:
    """Mark the link used if it still may be (unused, unexpired): one statement, so of two
    uses at once only one claims it."""
    result = conn.execute(
        update(password_resets)
        .where(r.token_hash == token_hash, r.used_at.is_(None), r.expires_at > now)
        .values(used_at=now)
    )
    return bool(result.rowcount)


def withdraw(conn: Connection, account_id: int, reset_id: int) -> bool:
    """Delete an unused link of the account; False when there is none."""
    result = conn.execute(
        delete(password_resets).where(
            r.id == reset_id, r.account_id == account_id, r.used_at.is_(None)
        )
    )
    return bool(result.rowcount)


def withdraw_for(conn: Connection, account_id: int, user_id: int) -> None:
    """Delete the unused links of the user (a new one replaces them; a deactivation, a
    reset or a password they changed themselves ends them)."""
    conn.execute(
        delete(password_resets).where(
            r.account_id == account_id, r.user_id == user_id, r.used_at.is_(None)
        )
    )
