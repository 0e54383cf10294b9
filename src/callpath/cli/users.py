"""`callpath user …`: the people who log in to the admin pages (`/app`)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Annotated

import typer

from callpath.cli.common import fail, open_engine
from callpath.services import accounts, setup
from callpath.storage import user_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

user_app = typer.Typer(help="Users who log in to the admin pages.", no_args_is_help=True)
AccountOption = Annotated[
    int | None,
    typer.Option(help="Account id (default: the only account there is).", min=1, max=MAX_ID),
]


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
