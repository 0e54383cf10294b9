"""Logins for the admin pages: argon2 password hashes, server-side login sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection

from callpath.services.accounts import hasher
from callpath.services.setup import SetupError
from callpath.storage import login_repo, user_repo

LOGIN_SECONDS = 14 * 86_400
# Who may do what. An API token acts with a role too: its user's, or a narrower one.
ROLE_ORDER = ("operator", "analyst", "admin", "owner")  # narrowest first
MANAGERS = ("owner", "admin")  # change sites, numbers, integrations and tokens
PLANNERS = (*MANAGERS, "analyst")  # start pool plans
# Verified against when the e-mail is unknown, so both paths cost the same time.
_DUMMY_HASH = hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    account_id: int
    email: str
    role: str


@dataclass(frozen=True, slots=True)
class Login:
    """A user as a login attempt finds them: who, and the hash to check."""

    who: Principal
    password_hash: str


def digest(token: str) -> str:
    """What is stored of a login session's, an API token's or an invitation's secret."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def narrowest(*roles: str | None) -> str:
    """The narrowest of `roles`; a missing or unknown one counts as the narrowest of all."""
    ranks = [ROLE_ORDER.index(r) if r in ROLE_ORDER else 0 for r in roles]
    return ROLE_ORDER[min(ranks, default=0)]


def roles_up_to(role: str) -> tuple[str, ...]:
    """`role` and the narrower ones, narrowest first: what a user of `role` may give a
    token or another user."""
    return ROLE_ORDER[: ROLE_ORDER.index(narrowest(role)) + 1]


def find_login(conn: Connection, email: str) -> Login | None:
    row = user_repo.by_email(conn, email.strip().lower())
    if row is None or row["deactivated_at"] is not None:
        return None
    principal = Principal(row["id"], row["account_id"], row["email"], row["role"])
    return Login(principal, row["password_hash"])


def check_password(login: Login | None, password: str) -> Principal | None:
    """Argon2: a quarter of a second of CPU, so callers run it in `hashing.POOL`, never on
    the event loop. An unknown e-mail (`login` None) costs the same as a known one."""
    try:
        hasher.verify(login.password_hash if login else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return login.who if login else None


def open_session(conn: Connection, who: Principal, now: float) -> str:
    """A new login session's token (the cookie's value); the user's last login is now."""
    token = secrets.token_urlsafe(32)
    login_repo.insert_session(conn, digest(token), who.account_id, who.user_id, now + LOGIN_SECONDS)
    user_repo.touch_login(conn, who.user_id, now)
    return token


def resolve(conn: Connection, token: str, now: float) -> Principal | None:
    row = login_repo.session_user(conn, digest(token), now)
    return Principal(row["id"], row["account_id"], row["email"], row["role"]) if row else None


def close_session(conn: Connection, token: str) -> None:
    login_repo.delete_session(conn, digest(token))


def close_all_sessions(conn: Connection, who: Principal, but: str | None = None) -> int:
    """End every login session of `who` but the one of token `but`; how many ended."""
    keep = digest(but) if but else None
    return login_repo.delete_user_sessions(conn, who.account_id, who.user_id, keep)


TOKEN_PREFIX = "cp_"  # noqa: S105 (a marker, not a secret)
TOKEN_TOUCH_SECONDS = 300  # "last used" is kept to this precision, sparing a write per call


def create_token(
    conn: Connection, who: Principal, name: str, now: float, role: str | None = None
) -> str:
    """A bearer token for the API of `who`'s account, acting with `role` (default: `who`'s
    own; never a wider one); only its hash is kept."""
    role = role or who.role
    if role not in ROLE_ORDER or narrowest(role, who.role) != role:
        allowed = ", ".join(roles_up_to(who.role))
        raise SetupError(f"role: a token of {who.email} may have one of: {allowed}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    login_repo.insert_token(
        conn,
        {
            "account_id": who.account_id,
            "user_id": who.user_id,
            "name": (name.strip() or "API token")[:200],
            "prefix": token[:10],
            "token_hash": digest(token),
            "created_at": now,
            "role": role,
        },
    )
    return token


@dataclass(frozen=True, slots=True)
class TokenUse:
    who: Principal
    token_id: int
    stale: bool  # "last used" is older than TOKEN_TOUCH_SECONDS: worth a write


def resolve_token(conn: Connection, token: str, now: float) -> TokenUse | None:
    """The token's role is the narrower of its own and its user's role now, so narrowing a
    user narrows their tokens. A token from before roles (role NULL) has its user's role;
    one without a user, the narrowest."""
    row = login_repo.live_token(conn, digest(token))
    if row is None:
        return None
    role = narrowest(row["role"] or row["user_role"], row["user_role"])
    who = Principal(row["user_id"] or 0, row["account_id"], f"token:{row['name']}", role)
    last = row["last_used_at"]
    stale = last is None or now - last > TOKEN_TOUCH_SECONDS
    return TokenUse(who, row["id"], stale)


def touch_token(conn: Connection, token_id: int, now: float) -> None:
    login_repo.touch_token(conn, token_id, now)


def list_tokens(conn: Connection, account_id: int) -> list[dict[str, object]]:
    return login_repo.tokens(conn, account_id)


def revoke_token(conn: Connection, account_id: int, token_id: int, now: float) -> bool:
    return login_repo.revoke_token(conn, account_id, token_id, now)
