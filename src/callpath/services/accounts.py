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


MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # what a form or a login reads of one


def check_password_rule(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise SetupError(f"password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise SetupError(f"password must have at most {MAX_PASSWORD} characters")


def new_login(conn: Connection, email: str, role: str) -> str:
    """`email` as stored (lower case), once it is an address no user has and `role` is
    a role; SetupError saying which is wrong otherwise."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise SetupError(f"{email[:254]!r} is not an e-mail address")
    if role not in ROLES:
        raise SetupError(f"role must be one of {', '.join(ROLES)}")
    if user_repo.by_email(conn, email):
        raise SetupError(f"a user {email} exists already")
    return email


def insert_user(
    conn: Connection, account_id: int, email: str, role: str, password_hash: str, now: float
) -> int:
    """A user whose e-mail and role `new_login` checked, with a password hashed already."""
    values = {
        "account_id": account_id,
        "email": email,
        "password_hash": password_hash,
        "role": role,
        "created_at": now,
    }
    return user_repo.insert_user(conn, values)


def create_user(
    conn: Connection, account_id: int, email: str, password: str, role: str, now: float
) -> int:
    """A user, hashing the password here: for the CLI and the tests, not the event loop."""
    email = new_login(conn, email, role)
    check_password_rule(password)
    return insert_user(conn, account_id, email, role, hasher.hash(password), now)
