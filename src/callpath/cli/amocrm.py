"""`callpath amocrm …`: an amoCRM (Kommo) account connected both ways: calls' leads
created there, its leads' stages and prices back as deals."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine, public_base_url, server_base_url, site_row
from callpath.integrations.amocrm import connect as amocrm
from callpath.integrations.amocrm.leads import FIELDS
from callpath.services import setup
from callpath.storage import outbox_repo, user_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

amocrm_app = typer.Typer(
    help="amoCRM / Kommo: leads from calls, their sales back as deals.", no_args_is_help=True
)
DestId = Annotated[int, typer.Argument(help="The connection's id.", min=1, max=MAX_ID)]


@amocrm_app.command("connect")
def amocrm_connect(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
    url: Annotated[str, typer.Option(help="Your amoCRM address: https://SUBDOMAIN.amocrm.ru.")],
    token: Annotated[
        str, typer.Option(help="A long-lived token of your private integration in amoCRM.")
    ],
    site: Annotated[
        str | None,
        typer.Option(help="Only this site's calls (key or id); its deals kept if unlinked."),
    ] = None,
    pipeline: Annotated[
        int | None, typer.Option(help="The pipeline new leads go to (its id).", min=1)
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=ID: your custom field for a visit's tag, instead of amoCRM's own "
            "tracking field; NAME is one of " + ", ".join(FIELDS) + ". Repeat it.",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="This server's public URL (default: $CALLPATH_PUBLIC_URL)."),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Allow a private or loopback address (a proxy on your own network).",
        ),
    ] = False,
) -> None:
    """Connect an amoCRM account; print the webhook URL to paste into amoCRM."""
    try:
        public = public_base_url(server)
        base = public or server_base_url(None)
        fields = _fields(field or [])
        with transaction(open_engine()) as conn:
            if user_repo.account_name(conn, account) is None:
                raise setup.NotFound(f"no account {account}")
            site_id = _site_of(conn, site, account)
            made = amocrm.connect(
                conn, account, url, token, time.time(), site_id, pipeline, fields, allow_private
            )
    except (setup.SetupError, ValueError) as exc:
        raise fail(str(exc)) from exc
    row = made.destination
    typer.echo(
        f"amocrm {row['id']} for account {account} → {row['url']}\n"
        f"webhook URL (shown only now): {base}{amocrm.hook_path(row['id'], made.hook_token)}\n"
        "Paste it in amoCRM → Settings → Integrations → Webhooks, with the events\n"
        '"Lead status changed" (and "Lead changed" for price changes).'
    )
    if public is None:
        typer.echo(
            "This is the local address: give --server (or set CALLPATH_PUBLIC_URL) with the "
            "address amoCRM reaches this server at, and use that instead."
        )


@amocrm_app.command("list")
def amocrm_list(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
) -> None:
    """The account's amoCRM connections: id, state, address, site, leads waiting, failed."""
    with transaction(open_engine(), write=False) as conn:
        if user_repo.account_name(conn, account) is None:
            raise fail(f"no account {account}")
        rows = amocrm.listed(conn, account)
    for r in rows:
        state = "active" if r["paused_at"] is None else f"paused ({r['paused_reason']})"
        site = f"site {r['site_id']}" if r["site_id"] is not None else "every site"
        typer.echo(
            f"{r['id']}\t{state}\t{r['url']}\t{site}\tpending {r['pending']}\tfailed {r['failed']}"
        )
    if not rows:
        typer.echo("no amoCRM connections")


@amocrm_app.command("remove")
def amocrm_remove(dest: DestId) -> None:
    """Disconnect: no more leads sent, the webhook URL refused (deals recorded stay)."""
    try:
        with transaction(open_engine()) as conn:
            account = outbox_repo.account_of(conn, dest)
            if account is None:
                raise setup.NotFound(f"no amoCRM connection {dest}")
            amocrm.remove(conn, account, dest)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"amocrm {dest} removed; delete its webhook in amoCRM too")


def _fields(given: list[str]) -> dict[str, int]:
    found = {}
    for item in given:
        name, _, number = item.partition("=")
        if not number.strip().isdigit() or len(number.strip()) > 15:
            raise setup.SetupError(f"--field {item[:60]!r}: give NAME=ID, e.g. utm_source=123456")
        found[name.strip().lower()] = int(number.strip())
    return found


def _site_of(conn: Connection, site: str | None, account: int) -> int | None:
    if site is None:
        return None
    row = site_row(conn, site)
    if row["account_id"] != account:
        raise setup.NotFound(f"no site {site[:64]} in account {account}")
    return int(row["id"])
