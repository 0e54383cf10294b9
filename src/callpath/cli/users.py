"""`callpath user …`: the people who log in to the admin pages (`/app`). Role changes,
deactivation, reactivation and password reset links go through the users page's service
(`services/users.py`), acting as an owner of the user's account, so the page's rules hold
here too."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine, public_base_url
from callpath.services import accounts, setup, users
from callpath.services.auth import Principal
from callpath.storage import user_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

user_app = typer.Typer(help="Users who log in to the admin pages.", no_args_is_help=True)
AccountOption = Annotated[
    int | None,
    typer.Option(help="Account id (default: the only account there is).", min=1, max=MAX_ID),
]
EmailOption = Annotated[str, typer.Option(help="The user's login (e-mail address).")]


@user_app.command("add")
def user_add(
    email: Annotated[str, typer.Option(help="The login (an e-mail address).")],
    role: Annotated[str, typer.Option(help=" | ".join(accounts.ROLES))] = "owner",
    account: AccountOption = None,
    password_file: Annotated[
        Path | None,
        typer.Option(help="Read the password from this file (else one is made and printed)."),
    ] = None,
) -> None:
    """Add a login. Owners and admins manage sites and API tokens, analysts read and plan,
    operators see calls with callers masked."""

    password = _password(password_file) if password_file else secrets.token_urlsafe(12)
    try:
        with transaction(open_engine()) as conn:
            account_id = accounts.account_for(conn, account)
            if account_id is None:
                raise setup.SetupError(
                    "no account yet: add a site first (`callpath site add`), or run `callpath demo`"
                )
            accounts.create_user(conn, account_id, email, password, role, time.time())
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    shown = "" if password_file else f"\n  password: {password}  (shown only now)"
    typer.echo(f"user {email.strip().lower()} ({role}) added to account {account_id}{shown}")


def _password(path: Path) -> str:

    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read the password from {path}: {exc}") from exc
    return text


@user_app.command("list")
def user_list(account: AccountOption = None) -> None:
    """The logins of an account, with their roles (and "deactivated" for those who can no
    longer log in)."""

    try:
        with transaction(open_engine(), write=False) as conn:
            account_id = accounts.account_for(conn, account)
            rows = [] if account_id is None else user_repo.logins(conn, account_id)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for row in rows:
        state = "\tdeactivated" if row["deactivated_at"] is not None else ""
        typer.echo(f"{row['email']}\t{row['role']}{state}")
    if not rows:
        typer.echo("no users")


@user_app.command("role")
def user_role(
    email: EmailOption,
    role: Annotated[str, typer.Option(help=" | ".join(accounts.ROLES))],
) -> None:
    """Change a user's role. The account always keeps an active owner: make someone else
    owner before the last one becomes something else."""

    with _user(email) as (conn, user, actor):
        users.change_role(conn, actor, user["id"], role)
    typer.echo(f"user {user['email']} is now {role} (was {user['role']})")


@user_app.command("deactivate")
def user_deactivate(email: EmailOption) -> None:
    """Deactivate a user: they can no longer log in, their login sessions end now and their
    API tokens are revoked (reactivating brings neither back). The last active owner
    stays."""

    with _user(email) as (conn, user, actor):
        if user["deactivated_at"] is None:
            users.deactivate(conn, actor, user["id"], time.time())
    if user["deactivated_at"] is not None:
        typer.echo(f"user {user['email']} is deactivated already")
        return
    typer.echo(
        f"user {user['email']} deactivated: their login sessions ended and their API "
        "tokens were revoked"
    )


@user_app.command("reactivate")
def user_reactivate(email: EmailOption) -> None:
    """Reactivate a user: they log in again with their old password (their old API tokens
    stay revoked)."""

    with _user(email) as (conn, user, actor):
        users.reactivate(conn, actor, user["id"])
    if user["deactivated_at"] is None:
        typer.echo(f"user {user['email']} is active already")
        return
    typer.echo(
        f"user {user['email']} reactivated: they can log in again (their old API tokens "
        "stay revoked)"
    )


@user_app.command("reset-password")
def user_reset_password(
    email: EmailOption,
    server: Annotated[
        str | None,
        typer.Option(help="Public base URL of this server (default: $CALLPATH_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Print a link with which the user chooses a new password (shown only now; it works
    once, for 24 hours; a new one replaces it). Using it ends every login session of
    theirs; until then their password stays as it is. callpath sends no e-mail: send
    them the link yourself."""

    try:
        base = public_base_url(server)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    with _user(email) as (conn, user, actor):
        token = users.make_reset(conn, actor, user["id"], time.time())
    hours = users.RESET_SECONDS // 3600
    typer.echo(
        f"password reset link for {user['email']} (shown only now; it works once, for "
        f"{hours} hours):\n  {base or ''}/app/reset/{token}"
    )
    if not base:
        typer.echo(
            "(a path on this server's public address: give --server or set "
            "CALLPATH_PUBLIC_URL to have it printed whole)"
        )


@contextmanager
def _user(email: str) -> Iterator[tuple[Connection, dict[str, Any], Principal]]:
    """A write transaction, the user with this e-mail as it was before it (e-mails are
    unique across the installation, so it names the account too) and who acts: an owner
    of that account. A refusal is the command's one-line error."""
    if not email.strip():
        raise fail("--email: the user's e-mail")
    try:
        with transaction(open_engine()) as conn:
            user = user_repo.by_email(conn, email.strip().lower())
            if user is None:
                raise setup.SetupError(f"no user {email.strip()[:254]}")
            yield conn, user, users.command_line(user["account_id"])
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
