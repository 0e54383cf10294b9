"""`callpath number add|list|retire|activate`: a site's tracking numbers.

The CLI speaks for the whole installation (whoever runs it can read the database), so
numbers are named by their site.
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine, site_row
from callpath.domain import phone
from callpath.services import setup
from callpath.storage import site_repo
from callpath.storage.db import transaction

SiteId = Annotated[str, typer.Option(help="Site id or key (as in the snippet URL).")]
Number = Annotated[str, typer.Argument(help="The number, any common format.")]
number_app = typer.Typer(help="Manage tracking numbers.", no_args_is_help=True)


@number_app.command("add")
def number_add(
    site: Annotated[str, typer.Option(help="Site id or key (as in the snippet URL).")],
    number: Annotated[str, typer.Argument(help="The number, any common format.")],
    kind: Annotated[str, typer.Option(help="static | pool | default")] = "pool",
    forward_to: Annotated[str | None, typer.Option(help="Destination (else site default).")] = None,
    label: Annotated[str | None, typer.Option(help="Channel label, e.g. 'Billboard'.")] = None,
    source: Annotated[str | None, typer.Option(help="Channel source of a static number.")] = None,
    medium: Annotated[str | None, typer.Option(help="Channel medium of a static number.")] = None,
    campaign: Annotated[str | None, typer.Option(help="Campaign of a static number.")] = None,
    group: Annotated[
        str | None,
        typer.Option(
            help="Sub-pool of a pool number: source/medium, source, medium or country:XX."
        ),
    ] = None,
) -> None:
    """Add a tracking number to a site."""
    engine = open_engine()
    try:
        with transaction(engine) as conn:
            row = site_row(conn, site)
            site_id = int(row["id"])
            setup.add_number(
                conn,
                int(row["account_id"]),
                site_id,
                setup.NumberInput(
                    number=number,
                    kind=kind,
                    forward_to=forward_to,
                    label=label,
                    source=source,
                    medium=medium,
                    campaign=campaign,
                    pool_group=group,
                ),
                time.time(),
            )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    in_group = f" (group {group.strip()})" if group and group.strip() else ""
    typer.echo(f"{kind} number {number} added to site {site_id}{in_group}")


@number_app.command("list")
def number_list(site: SiteId) -> None:
    """The site's numbers: kind, state, channel, destination."""

    try:
        with transaction(open_engine(), write=False) as conn:
            row = site_row(conn, site)
            site_id = int(row["id"])
            numbers = site_repo.list_numbers(conn, int(row["account_id"]), site_id)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for n in numbers:
        channel = "/".join(filter(None, (n["channel_source"], n["channel_medium"])))
        state = "active" if n["active"] else "retired"
        group = f"group {n['pool_group']}" if n["pool_group"] else ""
        forward = f"-> {n['forward_to']}" if n["forward_to"] else "-> site default"
        typer.echo("\t".join(filter(None, (n["e164"], n["kind"], state, channel, group, forward))))
    if not numbers:
        typer.echo("no numbers")


@number_app.command("retire")
def number_retire(site: SiteId, number: Number) -> None:
    """Stop showing a number to new visitors; calls to it still get through (to the site's
    default destination) and still match the visits it was shown to."""
    _number_active(site, number, False)


@number_app.command("activate")
def number_activate(site: SiteId, number: Number) -> None:
    """Bring a retired number back (a default number retires the site's other one)."""
    _number_active(site, number, True)


def _number_active(site: str, number: str, active: bool) -> None:

    try:
        with transaction(open_engine()) as conn:
            account_id, number_id, e164 = _number(conn, site, number)
            setup.set_number_active(conn, account_id, number_id, active)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{e164} {'is active again' if active else 'retired'} (site {site})")


def _number(conn: Connection, site: str, raw: str) -> tuple[int, int, str]:
    row = site_row(conn, site)
    try:
        e164 = phone.to_e164(raw, str(row["region"]))
    except phone.PhoneError as exc:
        raise setup.SetupError(str(exc)) from exc
    found = site_repo.number_by_e164(conn, e164)
    if found is None or found["site_id"] != row["id"]:
        raise setup.SetupError(f"{e164} is not a number of site {site}")
    return int(row["account_id"]), int(found["id"]), e164
