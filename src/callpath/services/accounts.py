"""Accounts and the users who log in to them (the password hasher they share)."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import Connection

from callpath.services.setup import SetupError
from callpath.storage import user_repo

hasher = PasswordHasher()
ROLES = ("owner", "admin", "analyst", "operator")


def create_account(conn: Connection, name: str, now: float) -> int:
    if not name.strip():
        raise SetupError("account name must not be empty")
    return user_repo.insert_account(conn, name.strip()[:200], now)


def account_for(conn: Connection, given: int | None) -> int | None:
    """The account a command means: `given` if it exists; else the only account there is;
    None when there is none yet. SetupError for an unknown id, or for several accounts
    and no choice (the message lists them)."""
    if given is not None:
        if user_repo.account_name(conn, given) is None:
            raise SetupError(f"no account {given}")
        return given
    found = user_repo.first_accounts(conn, 11)
    if len(found) > 1:
        listed = ", ".join(f"{row['id']} ({row['name']})" for row in found[:10])
        raise SetupError(f"several accounts: give --account (accounts: {listed})")
    return int(found[0]["id"]) if found else None


def create_user(
    conn: Connection, account_id: int, email: str, password: str, role: str, now: float
) -> int:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise SetupError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise SetupError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise SetupError("password must have at least 8 characters")
    if user_repo.by_email(conn, email):
        raise SetupError(f"a user {email} exists already")
    return user_repo.insert_user(
        conn,
        {
            "account_id": account_id,
            "email": email,
            "password_hash": hasher.hash(password),
            "role": role,
            "created_at": now,
        },
    )
