"""Accounts and the users who log in to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from callpath.storage.tables import accounts, users

Row = dict[str, Any]


def by_email(conn: Connection, email: str) -> Row | None:
    """The user with this e-mail (as stored: lower case), every column."""
    row = conn.execute(select(users).where(users.c.email == email)).first()
    return dict(row._mapping) if row else None


def insert_user(conn: Connection, values: Row) -> int:
    result = conn.execute(insert(users).values(**values))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))


def logins(conn: Connection, account_id: int) -> list[Row]:
    """The account's users (e-mail, role), oldest first."""
    u = users.c
    query = select(u.email, u.role).where(u.account_id == account_id).order_by(u.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def account_name(conn: Connection, account_id: int) -> str | None:
    name = conn.execute(select(accounts.c.name).where(accounts.c.id == account_id)).scalar()
    return None if name is None else str(name)


def insert_account(conn: Connection, name: str, now: float) -> int:
    result = conn.execute(insert(accounts).values(name=name, created_at=now))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def first_accounts(conn: Connection, limit: int) -> list[Row]:
    """Up to `limit` accounts (id, name), oldest first."""
    query = select(accounts.c.id, accounts.c.name).order_by(accounts.c.id).limit(limit)
    return [dict(r._mapping) for r in conn.execute(query)]
