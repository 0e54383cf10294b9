"""The `callpath` command."""

from __future__ import annotations

import secrets
import sys
import time
from typing import Annotated, Any

import typer
from alembic.util import CommandError
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from typer.core import TyperGroup

from callpath import settings as settings_mod
from callpath.cli import amocrm as cli_amocrm
from callpath.cli import asterisk as cli_asterisk
from callpath.cli import bench as cli_bench
from callpath.cli import bitrix24 as cli_bitrix24
from callpath.cli import calls as cli_calls
from callpath.cli import costs as cli_costs
from callpath.cli import export as cli_export
from callpath.cli import feeds as cli_feeds
from callpath.cli import integrations as cli_integrations
from callpath.cli import leads as cli_leads
from callpath.cli import notify as cli_notify
from callpath.cli import numbers as cli_numbers
from callpath.cli import platforms as cli_platforms
from callpath.cli import pool as cli_pool
from callpath.cli import recordings as cli_recordings
from callpath.cli import sip as cli_sip
from callpath.cli import sites as cli_sites
from callpath.cli import tokens as cli_tokens
from callpath.cli import users as cli_users
from callpath.cli import webhooks as cli_webhooks
from callpath.cli.common import (
    checked_engine,
    database_url,
    fail,
    open_engine,
    open_url,
    shown_url,
    unreachable,
)
from callpath.services import accounts, enrich, setup
from callpath.settings import SettingsError
from callpath.sim import history
from callpath.storage import migrate as migrate_mod
from callpath.storage import site_repo, user_repo
from callpath.storage.db import transaction
from callpath.web import access_log


class _Command(TyperGroup):
    """The root command. It refuses arguments that are not UTF-8: they reach Python as lone
    surrogates, which no database, file or terminal takes."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # Any: Typer's own Context
        for arg in args:
            if setup.unstorable(arg):
                shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                raise fail(f"the argument {shown!r} is not valid UTF-8 text")
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_Command,
    help="callpath: self-hosted call tracking.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_sites.site_app, name="site")
app.add_typer(cli_numbers.number_app, name="number")
app.add_typer(cli_integrations.integration_app, name="integration")
app.add_typer(cli_calls.call_app, name="call")
app.add_typer(cli_tokens.token_app, name="token")
app.add_typer(cli_users.user_app, name="user")
app.add_typer(cli_bench.bench_app, name="bench")
app.add_typer(cli_pool.pool_app, name="pool")
app.add_typer(cli_sip.sip_app, name="sip")
app.add_typer(cli_asterisk.asterisk_app, name="asterisk")
app.add_typer(cli_recordings.recordings_app, name="recordings")
app.add_typer(cli_leads.leads_app, name="leads")
app.add_typer(cli_costs.costs_app, name="costs")
app.add_typer(cli_export.export_app, name="export")
app.add_typer(cli_webhooks.webhook_app, name="webhook")
app.add_typer(cli_webhooks.outbox_app, name="outbox")
app.add_typer(cli_platforms.metrica_app, name="metrica")
app.add_typer(cli_platforms.ga4_app, name="ga4")
app.add_typer(cli_platforms.meta_app, name="meta")
app.add_typer(cli_amocrm.amocrm_app, name="amocrm")
app.add_typer(cli_feeds.feed_app, name="feed")
app.add_typer(cli_bitrix24.bitrix24_app, name="bitrix24")
app.add_typer(cli_notify.notify_app, name="notify")

DEMO_EMAIL = "demo@callpath.local"


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (CALLPATH_DATABASE_URL)."""
    url = database_url()
    open_url(url).dispose()
    try:
        migrate_mod.upgrade(url)
    except (DBAPIError, OSError) as exc:
        raise unreachable(url, exc) from exc
    except CommandError as exc:  # e.g. the database is at a revision newer than this code
        raise fail(f"cannot migrate {shown_url(url)}: {exc}") from exc
    typer.echo(f"database is at the latest schema: {shown_url(url).split('@')[-1]}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    apply_process: Annotated[
        bool,
        typer.Option(
            help="Fold and match calls in one process of their own, so routing "
            "answers never share a core (or the GIL) with that work."
        ),
    ] = True,
    deliver: Annotated[
        bool,
        typer.Option(
            help="Run the delivery process too: it sends the outbox's events to webhooks, "
            "CRMs and ad platforms (off: run `callpath outbox run` elsewhere)."
        ),
    ] = True,
    log_json: Annotated[
        bool,
        typer.Option(
            "--log-json",
            help="Log JSON lines (also CALLPATH_LOG_JSON=1): the listening line, one per "
            "request (method, path, status, ms; see CALLPATH_ACCESS_LOG), warnings.",
        ),
    ] = False,
) -> None:
    """Serve the tracker, the API and the admin pages; say on stderr when it listens, and
    log each request there."""
    import uvicorn

    from callpath.workers import applier

    try:
        settings = settings_mod.load()
        enrich.locator(settings.geoip_city_db)  # a city database that cannot be read: now
    except SettingsError as exc:
        raise fail(str(exc)) from exc
    checked_engine(settings.database_url, may_wait=True).dispose()  # the schema, if reachable
    # Started first and stopped last: its final pass follows the web processes' last
    # spool drain, so a graceful stop leaves no call unfolded.
    with applier.alongside(settings.database_url, apply_process, deliver):
        uvicorn.run(
            "callpath.web.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=access_log.server_config(log_json or settings.log_json, workers),
            log_level=None,  # the levels are in log_config
            access_log=False,  # ours (web/access_log.py) leaves out query strings
            # The client address is ours to derive (enrich.client_ip, from
            # CALLPATH_TRUSTED_PROXIES only): uvicorn's own handling would trust
            # X-Forwarded-For from loopback even with no proxy configured.
            proxy_headers=False,
        )


def _demo_account(conn: Connection, now: float) -> int:
    row = site_repo.site_row(conn, key="demo")
    if row:
        return int(row["account_id"])
    account_id = accounts.create_account(conn, "Demo", now)
    created = setup.create_site(
        conn,
        account_id,
        setup.SiteInput(
            name="Pizza Napoli (demo)",
            original_numbers=["+7 (495) 109-63-75"],
            default_destination="+7 (495) 109-63-75",
        ),
        now,
        key="demo",
    )
    site_id = int(created["id"])
    for number, kind, label, source, medium in [
        ("+7 495 100-00-00", "default", "Site default", None, None),
        ("+7 495 222-33-01", "static", "Billboard Leningradka", "billboard", "offline"),
        ("+7 495 222-33-02", "static", "Yandex Maps", "yandex_maps", "maps"),
        *[(f"+7 495 111-22-3{i}", "pool", None, None, None) for i in range(1, 6)],
    ]:
        monthly = {"billboard": 1500.0, "yandex_maps": 900.0}.get(source or "")
        setup.add_number(
            conn,
            account_id,
            site_id,
            setup.NumberInput(
                number=number,
                kind=kind,
                label=label,
                source=source,
                medium=medium,
                forward_to="+7 (495) 109-63-75",
                monthly_cost=monthly,
            ),
            now,
        )
    return account_id


@app.command()
def demo(
    with_history: Annotated[
        bool,
        typer.Option(
            "--history/--no-history",
            help="Also write 60 days of generated visits, calls, deals and spend (once).",
        ),
    ] = True,
) -> None:
    """Seed the demo account (idempotent) and print a fresh demo login."""
    engine = open_engine()
    password = secrets.token_urlsafe(9)
    now = time.time()
    with transaction(engine) as conn:
        account_id = _demo_account(conn, now)
        user = user_repo.by_email(conn, DEMO_EMAIL)
        if user:
            user_repo.set_password_hash(conn, user["id"], accounts.hasher.hash(password))
        else:
            accounts.create_user(conn, account_id, DEMO_EMAIL, password, "owner", now)
        name = user_repo.account_name(conn, account_id)
    seeded = history.seed(engine, "demo", now) if with_history else None
    if seeded is not None:
        typer.echo(
            f"demo history: {seeded.visits:,} visits, {seeded.calls:,} calls, "
            f"{seeded.deals:,} deals and spend over the last {seeded.spend_days} days"
        )
    typer.echo(f"demo account {name!r} ready\n  login:    {DEMO_EMAIL}\n  password: {password}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
