"""`callpath number list|retire|activate` and `callpath integration list|disable|enable`.

The CLI speaks for the whole installation (whoever runs it can read the database), so
numbers are named by their site and integrations by their id.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import Connection

from callpath.cli.common import fail, open_engine
from callpath.domain import phone
from callpath.services import setup
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

SiteId = Annotated[str, typer.Option(help="Site id or key (as in the snippet URL).")]
Number = Annotated[str, typer.Argument(help="The number, any common format.")]
IntegrationId = Annotated[str, typer.Argument(help="The integration's id (int_…).")]


def install(number_app: typer.Typer, integration_app: typer.Typer) -> None:
    number_app.command("list")(number_list)
    number_app.command("retire")(number_retire)
    number_app.command("activate")(number_activate)
    integration_app.command("list")(integration_list)
    integration_app.command("disable")(integration_disable)
    integration_app.command("enable")(integration_enable)


def site_row(conn: Connection, given: str, what: str = "--site") -> dict[str, Any]:
    """The site named by `--site` (or the argument `what`): its key, else its id (digits).
    The key goes first: a random hex key may be all digits. SetupError if none."""
    text = given.strip()
    row = site_repo.site_row(conn, key=text[:64])
    if row is None and text.isascii() and text.isdigit():
        if len(text) > 20 or not 1 <= int(text) <= MAX_ID:
            raise setup.SetupError(f"{what}: {text[:20]} is not a site id")
        row = site_repo.site_row(conn, site_id=int(text))
    if row is None:
        raise setup.SetupError(f"no site {text[:64]}")
    return row


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


def number_retire(site: SiteId, number: Number) -> None:
    """Stop showing a number to new visitors; calls to it still get through (to the site's
    default destination) and still match the visits it was shown to."""
    _number_active(site, number, False)


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


def integration_list(
    site: Annotated[str | None, typer.Option(help="Only this site's (its key).")] = None,
) -> None:
    """Integrations: id, kind, name, site, state."""

    with transaction(open_engine(), write=False) as conn:
        rows = call_repo.list_integrations(conn)
        keys = {s: _site_key(conn, s) for s in {r["site_id"] for r in rows}}
    shown = [r for r in rows if site is None or keys[r["site_id"]] == site]
    for r in shown:
        state = "active" if r["active"] else "disabled"
        typer.echo(f"{r['id']}\t{r['kind']}\t{r['name']}\tsite {keys[r['site_id']]}\t{state}")
    if not shown:
        typer.echo("no integrations")


def _site_key(conn: Connection, site_id: int) -> str:
    row = site_repo.site_row(conn, site_id=site_id)
    return str(row["key"]) if row else "?"


def integration_disable(integration: IntegrationId) -> None:
    """Refuse the integration's events (401) until it is enabled again."""
    _integration_active(integration, False)


def integration_enable(integration: IntegrationId) -> None:
    """Accept the integration's events again."""
    _integration_active(integration, True)


def _integration_active(integration: str, active: bool) -> None:

    try:
        with transaction(open_engine()) as conn:
            found = call_repo.integration(conn, integration[:40])
            if found is None:
                raise setup.SetupError(f"no integration {integration[:40]!r}")
            setup.set_integration_active(conn, int(found["account_id"]), integration, active)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"integration {integration} {'enabled' if active else 'disabled'}")
