"""`callpath token add`: API tokens."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from callpath.cli.common import fail, open_engine
from callpath.services import auth, setup
from callpath.storage import user_repo
from callpath.storage.db import transaction

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)


@token_app.command("add")
def token_add(
    user: Annotated[str, typer.Option(help="E-mail of the user the token acts for.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "API token",
    role: Annotated[
        str | None,
        typer.Option(help="operator | analyst | admin | owner, at most the user's (default)."),
    ] = None,
) -> None:
    """Create an API token for the user's account and print it (shown only now). It acts
    with the user's role, or the narrower `--role`, and never more than the user has."""

    if not user.strip():
        raise fail("--user: the e-mail of the user the token acts for")
    with transaction(open_engine()) as conn:
        row = user_repo.by_email(conn, user.strip().lower())
        if row is None:
            raise fail(f"no user {user.strip()[:254]}")
        who = auth.Principal(row["id"], row["account_id"], row["email"], row["role"])
        try:
            token = auth.create_token(conn, who, name, time.time(), role)
        except setup.SetupError as exc:
            raise fail(str(exc)) from exc
    typer.echo(f"token (shown only now): {token}\nuse: Authorization: Bearer {token}")
