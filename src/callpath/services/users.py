"""An account's users, managed by its owners and admins: add (with a password or an
invitation link), change roles, deactivate and reactivate, make a link that resets a
forgotten password; and accepting an invitation, using a reset link.

The rules: nobody gives a role wider than their own or touches a user whose role is
wider than theirs; the account always keeps an active owner; deactivating a user ends
their login sessions and revokes their API tokens; a password reset ends their login
sessions. Passwords come hashed: the caller hashes them off the event loop
(`services/hashing.py`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.services import accounts
from callpath.services.auth import (
    Login,
    Principal,
    close_all_sessions,
    digest,
    narrowest,
    roles_up_to,
)
from callpath.services.setup import NotFound, SetupError
from callpath.storage import invitation_repo, login_repo, reset_repo, site_repo, user_repo

INVITATION_SECONDS = 3 * 86_400  # how long an invitation link works
RESET_SECONDS = 86_400  # how long a password reset link works


def command_line(account_id: int) -> Principal:
    """Who `callpath user …` acts as in an account: an owner who is none of its users
    (user id 0). Whoever runs the command line runs the installation, so they may do what
    an owner may; the rules that protect the account (it keeps an active owner) hold."""
    return Principal(0, account_id, "callpath (command line)", "owner")


def roles_for(actor: Principal) -> tuple[str, ...]:
    """The roles `actor` may give, narrowest first: their own and narrower ones."""
    return roles_up_to(actor.role)


def _check_role(actor: Principal, role: str) -> None:
    if role not in roles_for(actor):
        raise SetupError(f"role: you may give one of {', '.join(reversed(roles_for(actor)))}")


def add_user(
    conn: Connection, actor: Principal, email: str, role: str, password_hash: str, now: float
) -> int:
    """A user of `actor`'s account with a password the admin chose (hashed already)."""
    _check_role(actor, role)
    email = accounts.new_login(conn, email, role)
    return accounts.insert_user(conn, actor.account_id, email, role, password_hash, now)


def invite(conn: Connection, actor: Principal, email: str, role: str, now: float) -> str:
    """An invitation link's secret (shown once; only its hash is kept), replacing the
    account's earlier unused invitations of the same e-mail."""
    _check_role(actor, role)
    email = accounts.new_login(conn, email, role)
    invitation_repo.withdraw_for(conn, actor.account_id, email)
    token = secrets.token_urlsafe(32)
    values = {
        "account_id": actor.account_id,
        "email": email,
        "role": role,
        "token_hash": digest(token),
        "created_by": actor.user_id,
        "created_at": now,
        "expires_at": now + INVITATION_SECONDS,
    }
    invitation_repo.insert_invitation(conn, values)
    return token


def withdraw_invitation(conn: Connection, actor: Principal, invitation_id: int) -> None:
    if not invitation_repo.withdraw(conn, actor.account_id, invitation_id):
        raise NotFound("no such invitation")


def change_role(conn: Connection, actor: Principal, user_id: int, role: str) -> None:
    user_repo.lock_account(conn, actor.account_id)
    user = _managed(conn, actor, user_id)
    _check_role(actor, role)
    if user["role"] == "owner" and role != "owner":
        _keep_an_owner(conn, user)
    user_repo.set_role(conn, actor.account_id, user_id, role)


def deactivate(conn: Connection, actor: Principal, user_id: int, now: float) -> None:
    """The user can no longer log in; their login sessions end and their API tokens are
    revoked (reactivating them brings neither back)."""
    user_repo.lock_account(conn, actor.account_id)
    user = _managed(conn, actor, user_id)
    if user_id == actor.user_id:
        raise SetupError("you cannot deactivate yourself: ask another owner or admin")
    if user["deactivated_at"] is not None:
        return
    if user["role"] == "owner":
        _keep_an_owner(conn, user)
    user_repo.set_deactivated(conn, actor.account_id, user_id, now)
    login_repo.delete_user_sessions(conn, actor.account_id, user_id)
    login_repo.revoke_user_tokens(conn, actor.account_id, user_id, now)
    reset_repo.withdraw_for(conn, actor.account_id, user_id)


def reactivate(conn: Connection, actor: Principal, user_id: int) -> None:
    _managed(conn, actor, user_id)
    user_repo.set_deactivated(conn, actor.account_id, user_id, None)


def _managed(conn: Connection, actor: Principal, user_id: int) -> dict[str, Any]:
    """The user, if `actor` may change them: in their account, and no wider a role."""
    user = user_repo.account_user(conn, actor.account_id, user_id)
    if user is None:
        raise NotFound("no such user")
    if user["role"] not in roles_for(actor):
        raise SetupError(f"{user['email']} is an {user['role']}: only an owner changes them")
    return user


def _keep_an_owner(conn: Connection, user: dict[str, Any]) -> None:
    """Refuse to take away the account's last active owner."""
    if user["deactivated_at"] is None and user_repo.active_owners(conn, user["account_id"]) <= 1:
        raise SetupError(
            f"{user['email']} is the account's last active owner: make someone else owner first"
        )


@dataclass(frozen=True, slots=True)
class Invitation:
    email: str
    role: str
    expires_at: float
    zone: str | None  # the account's timezone, for the expiry (None: UTC)


def open_invitation(conn: Connection, token: str, now: float) -> Invitation:
    """The invitation behind a link, if it may still be accepted: NotFound for an unknown
    (or withdrawn) link, SetupError for a used or expired one, or one whose maker is
    deactivated or no longer has the role it gives."""
    row = _invitation(conn, token, now)
    zone = site_repo.account_zone(conn, row["account_id"])
    return Invitation(row["email"], row["role"], row["expires_at"], zone)


def _invitation(conn: Connection, token: str, now: float) -> dict[str, Any]:
    row = invitation_repo.by_hash(conn, digest(token))
    if row is None:
        raise NotFound("this invitation link is not valid (it may have been withdrawn)")
    if row["used_at"] is not None:
        raise SetupError("this invitation link has been used already")
    if row["expires_at"] <= now:
        raise SetupError("this invitation link has expired: ask for a new one")
    inviter = user_repo.account_user(conn, row["account_id"], row["created_by"])
    if inviter is None or inviter["deactivated_at"] is not None:
        raise SetupError("this invitation is no longer valid: ask for a new one")
    if narrowest(row["role"], inviter["role"]) != row["role"]:
        raise SetupError("this invitation is no longer valid: ask for a new one")
    return row


def accept(conn: Connection, token: str, password_hash: str, now: float) -> Principal:
    """The new user the invitation makes, with the password they chose (hashed already),
    if `open_invitation` would open it."""
    row = _invitation(conn, token, now)
    if not invitation_repo.claim(conn, row["token_hash"], now):
        raise SetupError("this invitation link has been used already")
    email = accounts.new_login(conn, row["email"], row["role"])
    user_id = accounts.insert_user(conn, row["account_id"], email, row["role"], password_hash, now)
    return Principal(user_id, row["account_id"], email, row["role"])


def own_login(conn: Connection, who: Principal) -> Login:
    """`who` with their password hash, to check their current password against."""
    user = user_repo.account_user(conn, who.account_id, who.user_id)
    if user is None:
        raise NotFound("no such user")
    return Login(who, user["password_hash"])


def set_own_password(conn: Connection, who: Principal, password_hash: str, token: str) -> None:
    """`who`'s new password (hashed already); their other login sessions end, the one of
    `token` (this browser's) goes on."""
    user_repo.set_password_hash(conn, who.user_id, password_hash)
    close_all_sessions(conn, who, but=token)
    reset_repo.withdraw_for(conn, who.account_id, who.user_id)  # they know it again


def make_reset(conn: Connection, actor: Principal, user_id: int, now: float) -> str:
    """A password reset link's secret for a user `actor` manages (shown once; only its hash
    is kept), replacing their earlier unused links. Their password stays as it is until
    the link is used."""
    user = _managed(conn, actor, user_id)
    if user_id == actor.user_id:
        raise SetupError("your own password is changed on your login page, /app/me")
    if user["deactivated_at"] is not None:
        raise SetupError(f"{user['email']} is deactivated: reactivate them first")
    reset_repo.withdraw_for(conn, actor.account_id, user_id)
    token = secrets.token_urlsafe(32)
    values = {
        "account_id": actor.account_id,
        "user_id": user_id,
        "token_hash": digest(token),
        "created_by": actor.user_id or None,  # 0: the command line, no user
        "created_at": now,
        "expires_at": now + RESET_SECONDS,
    }
    reset_repo.insert_reset(conn, values)
    return token


def withdraw_reset(conn: Connection, actor: Principal, reset_id: int) -> None:
    if not reset_repo.withdraw(conn, actor.account_id, reset_id):
        raise NotFound("no such password reset link")


@dataclass(frozen=True, slots=True)
class Reset:
    email: str
    expires_at: float
    zone: str | None  # the account's timezone, for the expiry (None: UTC)


def open_reset(conn: Connection, token: str, now: float) -> Reset:
    """The user a reset link is for, if it may still be used: NotFound for an unknown (or
    withdrawn, or replaced) link, SetupError for a used or expired one, one of a
    deactivated user, or one whose maker is deactivated or no longer manages the user."""
    row, user = _reset(conn, token, now)
    return Reset(user["email"], row["expires_at"], site_repo.account_zone(conn, row["account_id"]))


def _reset(conn: Connection, token: str, now: float) -> tuple[dict[str, Any], dict[str, Any]]:
    row = reset_repo.by_hash(conn, digest(token))
    if row is None:
        raise NotFound("this password reset link is not valid (it may have been withdrawn)")
    if row["used_at"] is not None:
        raise SetupError("this password reset link has been used already")
    if row["expires_at"] <= now:
        raise SetupError("this password reset link has expired: ask for a new one")
    user = user_repo.account_user(conn, row["account_id"], row["user_id"])
    if user is None or user["deactivated_at"] is not None:
        raise SetupError("this user is deactivated: the link no longer works")
    if row["created_by"] is not None:
        maker = user_repo.account_user(conn, row["account_id"], row["created_by"])
        if maker is None or maker["deactivated_at"] is not None:
            raise SetupError("this password reset link is no longer valid: ask for a new one")
        if user["role"] not in roles_up_to(maker["role"]):
            raise SetupError("this password reset link is no longer valid: ask for a new one")
    return row, user


def use_reset(conn: Connection, token: str, password_hash: str, now: float) -> Principal:
    """The user's new password (hashed already), if `open_reset` would open the link: it
    is used up, their other links end and so does every login session of theirs."""
    row, user = _reset(conn, token, now)
    if not reset_repo.claim(conn, row["token_hash"], now):
        raise SetupError("this password reset link has been used already")
    who = Principal(user["id"], user["account_id"], user["email"], user["role"])
    user_repo.set_password_hash(conn, who.user_id, password_hash)
    reset_repo.withdraw_for(conn, who.account_id, who.user_id)
    close_all_sessions(conn, who)
    return who
