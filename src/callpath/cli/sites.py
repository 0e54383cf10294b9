"""`callpath site add|list|set`: add sites, see them and change their settings.

Like the other commands, these speak for the whole installation: a site is named by its
key or its id, whichever account it belongs to.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from callpath import settings as settings_mod
from callpath.cli.common import fail, open_engine, site_row
from callpath.domain.pool import HOLD_AFTER_LEAVE, PoolSettings
from callpath.services import accounts, setup
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

KeyOrId = Annotated[
    str, typer.Argument(metavar="KEY_OR_ID", help="Site key (as in the snippet URL) or id.")
]
site_app = typer.Typer(help="Manage sites.", no_args_is_help=True)


@site_app.command("add")
def site_add(
    name: Annotated[str, typer.Option(help="Site name.")],
    account: Annotated[
        int | None,
        typer.Option(
            help="Account id (0: a new account; default: the only account there is).",
            min=0,
            max=MAX_ID,
        ),
    ] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Allowed domain (repeatable).")] = None,
    original: Annotated[
        list[str] | None,
        typer.Option(help="Number printed on the site that the snippet replaces (repeatable)."),
    ] = None,
    default_destination: Annotated[
        str | None, typer.Option(help="Where calls go by default (the office number).")
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA timezone.")] = "Europe/Moscow",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency.")] = "RUB",
    region: Annotated[str, typer.Option(help="Default phone region (ISO country).")] = "RU",
    hold_after_leave: Annotated[
        int, typer.Option(help="Seconds a number stays held after the visitor leaves.")
    ] = HOLD_AFTER_LEAVE,
    cooldown: Annotated[int, typer.Option(help="Seconds a released number rests.")] = 60,
    ping_interval: Annotated[int, typer.Option(help="Seconds between pings.")] = 30,
    match_window: Annotated[
        int,
        typer.Option(
            help="Seconds after a hold ends that its holder may still get a call (scored).",
            min=0,
            max=604_800,
        ),
    ] = 172_800,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            help="Channel that keeps the original number: medium, source or source/medium."
        ),
    ] = None,
) -> None:
    """Add a site and print its snippet."""
    engine = open_engine()
    try:
        pool = PoolSettings(ping_interval, hold_after_leave, cooldown)
        with transaction(engine) as conn:
            found = accounts.account_for(conn, account) if account != 0 else None
            account_id = found or accounts.create_account(conn, name, time.time())
            created = setup.create_site(
                conn,
                account_id,
                setup.SiteInput(
                    name=name,
                    domains=domain or [],
                    original_numbers=original or [],
                    default_destination=default_destination,
                    timezone=timezone,
                    currency=currency,
                    region=region,
                    pool=pool,
                    excluded_channels=exclude or [],
                    match_window=match_window,
                ),
                time.time(),
            )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    base = settings_mod.load().public_url or "https://YOUR-HOST"
    typer.echo(
        f"site {created['id']} added (account {account_id}), key {created['key']}\n"
        f'snippet: <script async src="{base}/t/{created["key"]}.js"></script>'
    )
    if not default_destination:
        typer.secho(
            "warning: the site has no default destination, so its calls would have nowhere "
            "to go; numbers (without --forward-to) and integrations are refused until "
            f"`callpath site set {created['key']} --default-destination NUMBER`",
            fg="yellow",
            err=True,
        )
    if found is None:
        typer.echo(
            f"a new account: add its login with `callpath user add --account {account_id} "
            "--email YOU@EXAMPLE.COM`"
        )


@site_app.command("list")
def site_list(
    account: Annotated[
        int | None, typer.Option(help="Only this account's sites.", min=1, max=MAX_ID)
    ] = None,
) -> None:
    """The sites: key, id, account, name, default destination, timezone, active numbers."""

    with transaction(open_engine(), write=False) as conn:
        rows = site_repo.list_sites(conn, account)
        counts = site_repo.active_counts(conn)
    for row in rows:
        typer.echo(_line(row, counts.get(int(row["id"]), {})))
    if not rows:
        typer.echo("no sites")


def _line(row: dict[str, Any], counts: dict[str, int]) -> str:
    numbers = ", ".join(f"{counts.get(kind, 0)} {kind}" for kind in ("pool", "static", "default"))
    return "\t".join(
        (
            str(row["key"]),
            f"site {row['id']}",
            f"account {row['account_id']}",
            str(row["name"]),
            f"-> {row['default_destination'] or 'no default destination'}",
            str(row["timezone"]),
            numbers,
        )
    )


@site_app.command("set")
def site_set(
    site: KeyOrId,
    name: Annotated[str | None, typer.Option(help="Site name.")] = None,
    default_destination: Annotated[
        str | None, typer.Option(help="Where calls go by default (the office number).")
    ] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA timezone.")] = None,
    domains: Annotated[
        str | None,
        typer.Option(help='Allowed domains, comma-separated ("": any domain).'),
    ] = None,
    original: Annotated[
        str | None,
        typer.Option(
            help="Numbers printed on the site that the snippet replaces, comma-separated."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(help="Default phone region (ISO country).")] = None,
    currency: Annotated[str | None, typer.Option(help="ISO 4217 currency.")] = None,
    exclude: Annotated[
        str | None,
        typer.Option(help='Channels that keep the original number, comma-separated ("": none).'),
    ] = None,
    hold_after_leave: Annotated[
        int | None,
        typer.Option(help="Seconds a number stays held after the visitor leaves (60..86400)"),
    ] = None,
    cooldown: Annotated[
        int | None,
        typer.Option(
            help="Seconds a released number rests before another visitor gets it (0..86400)"
        ),
    ] = None,
    ping_interval: Annotated[
        int | None, typer.Option(help="Seconds between a visible page's pings (5..600)")
    ] = None,
    session_timeout: Annotated[
        int | None, typer.Option(help="Seconds of inactivity that end a session (300..86400)")
    ] = None,
    match_window: Annotated[
        int | None,
        typer.Option(
            help="Seconds after a hold ends that its holder may still get a call (0..604800)"
        ),
    ] = None,
) -> None:
    """Change a site's settings; those not given keep their values. The key never changes
    (it is in the snippet on the site's pages)."""

    changes = setup.SiteChanges(
        name=name,
        default_destination=default_destination,
        timezone=timezone,
        domains=_listed(domains),
        original_numbers=_listed(original),
        region=region,
        currency=currency,
        excluded_channels=_listed(exclude),
        hold_after_leave=hold_after_leave,
        cooldown=cooldown,
        ping_interval=ping_interval,
        session_timeout=session_timeout,
        match_window=match_window,
    )
    if not changes.given():
        raise fail("nothing to change: give an option, e.g. --default-destination (see --help)")
    try:
        with transaction(open_engine()) as conn:
            row = _updated(conn, site, changes)
            sip = _has_sip_edge(conn, row)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    _report(row, changes, sip)


def _listed(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def _updated(conn: Connection, given: str, changes: setup.SiteChanges) -> dict[str, Any]:
    found = site_row(conn, given, what="site")
    return setup.update_site(conn, int(found["account_id"]), int(found["id"]), changes)


def _has_sip_edge(conn: Connection, row: dict[str, Any]) -> bool:
    return any(
        i["kind"] == "sip" and i["active"] and i["site_id"] == row["id"]
        for i in call_repo.list_integrations(conn, int(row["account_id"]))
    )


def _report(row: dict[str, Any], changes: setup.SiteChanges, sip: bool) -> None:
    typer.echo(f"site {row['id']} ({row['key']}) changed:")
    for column in changes.given():
        value = row[column]
        empty = "any" if column == "domains" else "none"
        shown = (", ".join(value) or empty) if isinstance(value, list) else value
        typer.echo(f"  {column}: {shown}")
    if sip and "default_destination" in changes.given():
        typer.echo(
            "the Kamailio edge keeps the old default destination as its fallback: run "
            f"`callpath sip config --site {row['key']} --pbx …` again and reload Kamailio"
        )
