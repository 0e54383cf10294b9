"""Accounts and the users who log in to them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

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
    """The account's users (e-mail, role, deactivated_at), oldest first."""
    u = users.c
    query = (
        select(u.email, u.role, u.deactivated_at).where(u.account_id == account_id).order_by(u.id)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


_LISTED = (
    users.c.id,
    users.c.email,
    users.c.role,
    users.c.created_at,
    users.c.last_login_at,
    users.c.deactivated_at,
)


def account_users(conn: Connection, account_id: int) -> list[Row]:
    """The account's users, every column but the password hash, oldest first."""
    query = select(*_LISTED).where(users.c.account_id == account_id).order_by(users.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def account_user(conn: Connection, account_id: int, user_id: int) -> Row | None:
    """One user of the account, every column; another account's is None."""
    query = select(users).where(users.c.id == user_id, users.c.account_id == account_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row else None


def lock_account(conn: Connection, account_id: int) -> None:
    """Serialise changes to the account's users (PostgreSQL: its row locked until the
    transaction ends; SQLite's write transaction already has the database to itself)."""
    conn.execute(select(accounts.c.id).where(accounts.c.id == account_id).with_for_update())


def active_owners(conn: Connection, account_id: int) -> int:
    u = users.c
    query = select(func.count()).where(
        u.account_id == account_id, u.role == "owner", u.deactivated_at.is_(None)
    )
    return int(conn.execute(query).scalar_one())


def set_role(conn: Connection, account_id: int, user_id: int, role: str) -> None:
    u = users.c
    conn.execute(update(users).where(u.id == user_id, u.account_id == account_id).values(role=role))


def set_deactivated(conn: Connection, account_id: int, user_id: int, at: float | None) -> None:
    """Deactivated at `at`; None: active again."""
    u = users.c
    conn.execute(
        update(users).where(u.id == user_id, u.account_id == account_id).values(deactivated_at=at)
    )


def touch_login(conn: Connection, user_id: int, now: float) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=now))


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
