"""`callpath integration add|list|disable|enable`: sources of call events.

Integrations are named by their id (the CLI speaks for the whole installation).
"""

from __future__ import annotations

import time
from typing import Annotated

import typer
from sqlalchemy import Connection

from callpath import telephony
from callpath.cli.common import fail, open_engine, server_base_url, site_row
from callpath.services import setup
from callpath.storage import call_repo, site_repo
from callpath.storage.db import transaction

IntegrationId = Annotated[str, typer.Argument(help="The integration's id (int_…).")]
integration_app = typer.Typer(help="Sources of call events (PBX, telephony).", no_args_is_help=True)


@integration_app.command("add")
def integration_add(
    site: Annotated[str, typer.Option(help="The site's key (as in the snippet URL) or id.")],
    name: Annotated[str, typer.Option(help="A name to tell integrations apart.")] = "PBX",
    kind: Annotated[str, typer.Option(help=" | ".join(telephony.KINDS))] = "generic",
    server: Annotated[str | None, typer.Option(help="Public base URL of this server.")] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="The provider's own signing key (Twilio auth token, Zadarma secret)."),
    ] = None,
) -> None:
    """Create an integration and print its webhook URL and secret (shown only now)."""

    try:
        base = server_base_url(server)
        with transaction(open_engine()) as conn:
            row = site_row(conn, site)
            site_id, account_id = int(row["id"]), int(row["account_id"])
            made = setup.create_integration(
                conn, account_id, site_id, kind, name, time.time(), secret
            )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    url = f"{base}/hooks/{kind}/{made.id}"
    typer.echo(
        f"integration {made.id} ({kind}) for site {site}\n"
        + telephony.instructions(kind, url, made.secret).replace("SITE_KEY", site)
    )


@integration_app.command("list")
def integration_list(
    site: Annotated[str | None, typer.Option(help="Only this site's (its id or key).")] = None,
) -> None:
    """Integrations: id, kind, name, site, state. A site that does not exist is an error,
    not an empty list."""

    try:
        with transaction(open_engine(), write=False) as conn:
            only = int(site_row(conn, site)["id"]) if site is not None else None
            rows = call_repo.list_integrations(conn)
            keys = {s: _site_key(conn, s) for s in {r["site_id"] for r in rows}}
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    shown = [r for r in rows if only is None or r["site_id"] == only]
    for r in shown:
        state = "active" if r["active"] else "disabled"
        typer.echo(f"{r['id']}\t{r['kind']}\t{r['name']}\tsite {keys[r['site_id']]}\t{state}")
    if not shown:
        typer.echo("no integrations")


@integration_app.command("disable")
def integration_disable(integration: IntegrationId) -> None:
    """Refuse the integration's events (401) until it is enabled again."""
    _integration_active(integration, False)


@integration_app.command("enable")
def integration_enable(integration: IntegrationId) -> None:
    """Accept the integration's events again."""
    _integration_active(integration, True)


def _site_key(conn: Connection, site_id: int) -> str:
    row = site_repo.site_row(conn, site_id=site_id)
    return str(row["key"]) if row else "?"


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
