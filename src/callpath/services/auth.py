"""Logins for the admin pages: argon2 password hashes, server-side login sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update

from callpath.services.accounts import hasher
from callpath.services.setup import SetupError
from callpath.storage import user_repo
from callpath.storage.tables import api_tokens, login_sessions, users

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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def narrowest(*roles: str | None) -> str:
    """The narrowest of `roles`; a missing or unknown one counts as the narrowest of all."""
    ranks = [ROLE_ORDER.index(r) if r in ROLE_ORDER else 0 for r in roles]
    return ROLE_ORDER[min(ranks, default=0)]


def find_login(conn: Connection, email: str) -> Login | None:
    row = user_repo.by_email(conn, email.strip().lower())
    if row is None:
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
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(login_sessions).values(
            token_hash=_digest(token),
            account_id=who.account_id,
            user_id=who.user_id,
            expires_at=now + LOGIN_SECONDS,
        )
    )
    return token


def resolve(conn: Connection, token: str, now: float) -> Principal | None:
    ls, u = login_sessions.c, users.c
    row = conn.execute(
        select(u.id, u.account_id, u.email, u.role)
        .select_from(login_sessions.join(users, u.id == ls.user_id))
        .where(ls.token_hash == _digest(token), ls.expires_at > now)
    ).first()
    return Principal(row[0], row[1], row[2], row[3]) if row else None


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(login_sessions).where(login_sessions.c.token_hash == _digest(token)))


TOKEN_PREFIX = "cp_"  # noqa: S105 (a marker, not a secret)
TOKEN_TOUCH_SECONDS = 300  # "last used" is kept to this precision, sparing a write per call


def create_token(
    conn: Connection, who: Principal, name: str, now: float, role: str | None = None
) -> str:
    """A bearer token for the API of `who`'s account, acting with `role` (default: `who`'s
    own; never a wider one); only its hash is kept."""
    role = role or who.role
    if role not in ROLE_ORDER or narrowest(role, who.role) != role:
        allowed = ", ".join(ROLE_ORDER[: ROLE_ORDER.index(narrowest(who.role)) + 1])
        raise SetupError(f"role: a token of {who.email} may have one of: {allowed}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        insert(api_tokens).values(
            account_id=who.account_id,
            user_id=who.user_id,
            name=(name.strip() or "API token")[:200],
            prefix=token[:10],
            token_hash=_digest(token),
            created_at=now,
            role=role,
        )
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
    t, u = api_tokens.c, users.c
    row = conn.execute(
        select(t.id, t.account_id, t.user_id, t.name, t.last_used_at, t.role, u.role.label("ur"))
        .select_from(api_tokens.outerjoin(users, u.id == t.user_id))
        .where(t.token_hash == _digest(token), t.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    role = narrowest(row.role or row.ur, row.ur)
    who = Principal(row.user_id or 0, row.account_id, f"token:{row.name}", role)
    stale = row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_SECONDS
    return TokenUse(who, row.id, stale)


def touch_token(conn: Connection, token_id: int, now: float) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))


def list_tokens(conn: Connection, account_id: int) -> list[dict[str, object]]:
    t = api_tokens.c
    rows = conn.execute(
        select(t.id, t.name, t.prefix, t.role, t.created_at, t.last_used_at, t.revoked_at)
        .where(t.account_id == account_id)
        .order_by(t.id)
    )
    return [dict(r._mapping) for r in rows]


def revoke_token(conn: Connection, account_id: int, token_id: int, now: float) -> bool:
    t = api_tokens.c
    result = conn.execute(
        update(api_tokens)
        .where(t.id == token_id, t.account_id == account_id, t.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)
