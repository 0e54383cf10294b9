"""`callpath bitrix24 …`: a Bitrix24 portal connected both ways. A call's lead goes to it
as a lead (through its incoming webhook); its deals come back (its outgoing webhook,
ONCRMDEALUPDATE, posting to this server) with their money and stage."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from callpath.cli.common import (
    account_exists,
    fail,
    open_engine,
    public_base_url,
    site_of,
)
from callpath.integrations.bitrix24 import connect
from callpath.services import setup
from callpath.storage import outbox_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

bitrix24_app = typer.Typer(
    help="Bitrix24: calls' leads sent to a portal, its deals read back.",
    no_args_is_help=True,
)
DestId = Annotated[int, typer.Argument(help="The destination's id.", min=1, max=MAX_ID)]
Server = Annotated[
    str | None,
    typer.Option(help="This server's public base URL (default: $CALLPATH_PUBLIC_URL)."),
]


@bitrix24_app.command("connect")
def bitrix24_connect(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
    webhook_url: Annotated[
        str,
        typer.Option(
            help="The incoming webhook's URL, https://PORTAL/rest/USER/CODE/ (CRM rights)."
        ),
    ],
    application_token: Annotated[
        str | None,
        typer.Option(help="The outgoing webhook's application token (or later: set-token)."),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(help="Only this site's calls (key or id); deals from no call kept here."),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Allow a portal on a private or loopback address (on-premise Bitrix24 on "
            "your own network): your explicit consent, refused otherwise.",
        ),
    ] = False,
    server: Server = None,
) -> None:
    """Connect a portal: print the destination's id and the handler URL to give its
    outgoing webhook (event ONCRMDEALUPDATE)."""
    base = _base(server)
    try:
        with transaction(open_engine()) as conn:
            account_exists(conn, account)
            site_id = site_of(conn, site, account)
            row = connect.add(
                conn, account, webhook_url, time.time(), application_token, site_id, allow_private
            )
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    path = connect.hook_path(int(row["id"]))
    handler = f"{base}{path}" if base else f"https://YOUR-CALLPATH{path}"
    typer.echo(
        f"bitrix24 {row['id']} for account {account} → {row['url']}\n"
        f"handler URL for the outgoing webhook (ONCRMDEALUPDATE): {handler}"
    )
    if not base:
        typer.echo("  (give --server or set CALLPATH_PUBLIC_URL to have it printed whole)")
    if not row["has_token"]:
        typer.echo(
            f"then: callpath bitrix24 set-token {row['id']} TOKEN  (the outgoing webhook's "
            "application token; deal events are refused until it is set)"
        )


@bitrix24_app.command("set-token")
def bitrix24_set_token(
    dest: DestId,
    token: Annotated[str, typer.Argument(help="The outgoing webhook's application token.")],
) -> None:
    """Set the outgoing webhook's application token: deal events must carry it."""
    _act(dest, lambda conn, account: connect.set_token(conn, account, dest, token))
    typer.echo(f"bitrix24 {dest}: application token set")


@bitrix24_app.command("list")
def bitrix24_list(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
) -> None:
    """The account's portals: id, state, URL (code masked), site, token, deliveries
    waiting and failed."""
    try:
        with transaction(open_engine(), write=False) as conn:
            account_exists(conn, account)
            rows = connect.listed(conn, account)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for r in rows:
        state = "active" if r["paused_at"] is None else f"paused ({r['paused_reason']})"
        token = "token set" if r["has_token"] else "no token"
        site = f"site {r['site_id']}" if r["site_id"] is not None else "all sites"
        typer.echo(
            f"{r['id']}\t{state}\t{r['url']}\t{site}\t{token}\t"
            f"pending {r['pending']}\tfailed {r['failed']}"
        )
    if not rows:
        typer.echo("no Bitrix24 portals")


@bitrix24_app.command("remove")
def bitrix24_remove(dest: DestId) -> None:
    """Disconnect the portal: its queued deliveries, their log and what it made of our
    calls are removed (deals already recorded stay)."""
    _act(dest, lambda conn, account: connect.remove(conn, account, dest))
    typer.echo(f"bitrix24 {dest} removed")


def _act(dest: int, work: Any) -> None:
    try:
        with transaction(open_engine()) as conn:
            account = outbox_repo.account_of(conn, dest)
            if account is None:
                raise setup.NotFound(f"no Bitrix24 destination {dest}")
            work(conn, account)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc


def _base(server: str | None) -> str | None:
    try:
        return public_base_url(server)
    except ValueError as exc:
        raise fail(str(exc)) from exc
