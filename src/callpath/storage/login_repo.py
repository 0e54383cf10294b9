"""Login sessions and API tokens: rows keyed by a token's hash (the token itself is
never stored). Tokens are scoped by account wherever the caller names one."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from callpath.storage.tables import api_tokens, login_sessions, users

Row = dict[str, Any]
ls, t, u = login_sessions.c, api_tokens.c, users.c


def insert_session(
    conn: Connection, token_hash: str, account_id: int, user_id: int, expires_at: float
) -> None:
    conn.execute(
        insert(login_sessions).values(
            token_hash=token_hash, account_id=account_id, user_id=user_id, expires_at=expires_at
        )
    )


def session_user(conn: Connection, token_hash: str, now: float) -> Row | None:
    """The active user of an unexpired login session (id, account_id, email, role)."""
    row = conn.execute(
        select(u.id, u.account_id, u.email, u.role)
        .select_from(login_sessions.join(users, u.id == ls.user_id))
        .where(ls.token_hash == token_hash, ls.expires_at > now, u.deactivated_at.is_(None))
    ).first()
    return dict(row._mapping) if row else None


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(login_sessions).where(ls.token_hash == token_hash))


def delete_user_sessions(
    conn: Connection, account_id: int, user_id: int, keep: str | None = None
) -> int:
    """End the user's login sessions, but the one whose hash is `keep`; how many ended."""
    query = delete(login_sessions).where(ls.account_id == account_id, ls.user_id == user_id)
    if keep is not None:
        query = query.where(ls.token_hash != keep)
    return int(conn.execute(query).rowcount)


def user_sessions(conn: Connection, account_id: int, user_id: int, now: float) -> int:
    """How many unexpired login sessions the user has."""
    query = select(func.count()).where(
        ls.account_id == account_id, ls.user_id == user_id, ls.expires_at > now
    )
    return int(conn.execute(query).scalar_one())


def revoke_user_tokens(conn: Connection, account_id: int, user_id: int, now: float) -> int:
    """Revoke every live token the user made; how many."""
    result = conn.execute(
        update(api_tokens)
        .where(t.account_id == account_id, t.user_id == user_id, t.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def insert_token(conn: Connection, values: Row) -> None:
    conn.execute(insert(api_tokens).values(**values))


def live_token(conn: Connection, token_hash: str) -> Row | None:
    """An unrevoked token of an active user (or of none), with its user's role now
    (`user_role`, None without a user)."""
    row = conn.execute(
        select(
            t.id, t.account_id, t.user_id, t.name, t.last_used_at, t.role, u.role.label("user_role")
        )
        .select_from(api_tokens.outerjoin(users, u.id == t.user_id))
        .where(
            t.token_hash == token_hash,
            t.revoked_at.is_(None),
            or_(t.user_id.is_(None), u.deactivated_at.is_(None)),
        )
    ).first()
    return dict(row._mapping) if row else None


def touch_token(conn: Connection, token_id: int, now: float) -> None:
    conn.execute(update(api_tokens).where(t.id == token_id).values(last_used_at=now))


def tokens(conn: Connection, account_id: int) -> list[Row]:
    rows = conn.execute(
        select(t.id, t.name, t.prefix, t.role, t.created_at, t.last_used_at, t.revoked_at)
        .where(t.account_id == account_id)
        .order_by(t.id)
    )
    return [dict(r._mapping) for r in rows]


def revoke_token(conn: Connection, account_id: int, token_id: int, now: float) -> bool:
    result = conn.execute(
        update(api_tokens)
        .where(t.id == token_id, t.account_id == account_id, t.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)
