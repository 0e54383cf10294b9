"""`callpath notify …`: notifications by e-mail or Telegram (missed calls, lost callers,
new leads, daily and weekly digests), per site or account-wide, for a user if named.

They are outbox destinations: the delivery process `serve` starts sends them, retries
them, and `callpath webhook log ID` shows their delivery log."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Annotated, Any

import typer

from callpath import settings as settings_mod
from callpath.cli.common import account_exists, fail, open_engine, site_of
from callpath.domain import notify as rules
from callpath.integrations import destinations
from callpath.integrations.http import Client
from callpath.integrations.notify.sender import Channels
from callpath.integrations.senders import SENDERS
from callpath.integrations.sending import Context
from callpath.services import setup
from callpath.services.deliveries import Links
from callpath.services.notify import Reads
from callpath.settings import SettingsError
from callpath.storage import outbox_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID

notify_app = typer.Typer(
    help="Notifications by e-mail and Telegram: missed calls, lost callers, new leads, digests.",
    no_args_is_help=True,
)
DestId = Annotated[int, typer.Argument(help="The notification's id.", min=1, max=MAX_ID)]


@notify_app.command("add")
def notify_add(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
    on: Annotated[str, typer.Option(help="Comma-separated: " + ", ".join(rules.NOTICES) + ".")],
    email: Annotated[
        str | None, typer.Option(help="Send e-mails to this address (CALLPATH_SMTP_* set).")
    ] = None,
    telegram_chat: Annotated[
        str | None, typer.Option(help="Send Telegram messages to this chat id.")
    ] = None,
    telegram_token: Annotated[
        str | None, typer.Option(help="The Telegram bot's token (from BotFather).")
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="Only this site's calls (key or id); else all.")
    ] = None,
    quiet: Annotated[
        str | None,
        typer.Option(help="Local quiet hours, HH:MM-HH:MM: nothing is sent, it waits till then."),
    ] = None,
    lost_after: Annotated[
        int,
        typer.Option(help="Minutes a missed caller has to be called back before 'lost'."),
    ] = rules.LOST_AFTER,
    digest_at: Annotated[
        str, typer.Option(help="Local time digests are sent, HH:MM.")
    ] = rules.DIGEST_AT,
    user: Annotated[
        int | None,
        typer.Option(
            help="The user it is for (their address unless --email is given).", min=1, max=MAX_ID
        ),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Allow the Telegram API at a private or loopback address "
            "(CALLPATH_TELEGRAM_API: a proxy of yours).",
        ),
    ] = False,
) -> None:
    """Add an e-mail (--email or --user) or Telegram (--telegram-chat and --telegram-token)
    notification and print its id."""
    if telegram_chat is not None or telegram_token is not None:
        if email is not None:
            raise fail("give --email or --telegram-chat with --telegram-token, not both")
        if telegram_chat is None or telegram_token is None:
            raise fail("Telegram needs both --telegram-chat and --telegram-token")
        kind, to = "telegram", str(telegram_chat)
    elif email is not None or user is not None:
        kind, to = "email", (email or "")
    else:
        raise fail("give --email ADDRESS (or --user ID), or --telegram-chat ID --telegram-token")
    given = destinations.Notification(
        kind,
        on,
        to or None,
        telegram_token,
        None,
        quiet,
        lost_after,
        digest_at,
        user,
        allow_private,
    )
    try:
        settings = settings_mod.load()
        with transaction(open_engine()) as conn:
            account_exists(conn, account)
            given = replace(given, site_id=site_of(conn, site, account))
            row = destinations.add_notification(
                conn, account, given, time.time(), settings.smtp is not None
            )
    except (setup.SetupError, SettingsError) as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"notification {row['id']} for account {account}: {row['name']}")
    typer.echo(f"on: {on}; try it with: callpath notify test {row['id']}")


@notify_app.command("list")
def notify_list(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
) -> None:
    """The account's notifications: id, state, recipient, notices, site, quiet hours."""
    try:
        with transaction(open_engine(), write=False) as conn:
            account_exists(conn, account)
            rows = destinations.notifications(conn, account)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for r in rows:
        config = rules.Config.of(r["config"])
        extra = [f"lost after {config.lost_after} min"] if "lost" in config.on else []
        if any(n.startswith("digest_") for n in config.on):
            extra.append(f"digests at {config.digest_at.strftime('%H:%M')}")
        if config.quiet is not None:
            extra.append("quiet " + str(r["config"].get("quiet")))
        if config.user_id is not None:
            extra.append(f"user {config.user_id}")
        typer.echo(
            f"{r['id']}\t{'active' if r['paused_at'] is None else 'paused'}\t{r['name']}\t"
            f"{','.join(config.on)}\tsite {r['site_id'] or 'all'}\t{'; '.join(extra)}\t"
            f"pending {r['pending']}\tfailed {r['failed']}"
        )
    if not rows:
        typer.echo("no notifications")


@notify_app.command("remove")
def notify_remove(dest: DestId) -> None:
    """Remove the notification, with its queued deliveries and their log."""
    row = _row(dest)
    try:
        with transaction(open_engine()) as conn:
            destinations.remove(conn, int(row["account_id"]), dest)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"notification {dest} removed")


@notify_app.command("test")
def notify_test(dest: DestId) -> None:
    """Send a test message now (quiet hours aside) and print what came back."""
    row = _row(dest)
    try:
        settings = settings_mod.load()
    except SettingsError as exc:
        raise fail(str(exc)) from exc
    engine = open_engine()
    client = Client()
    try:
        ctx = Context(
            client, Links(engine), Channels(settings.smtp, settings.telegram_api, Reads(engine))
        )
        event: dict[str, Any] = {
            "type": rules.TEST,
            "subject": "test",
            "site_id": None,
            "payload": {},
        }
        outcome = SENDERS[str(row["kind"])](ctx, row, event, time.time())
    finally:
        client.close()
        engine.dispose()
    status = outcome.status if outcome.status is not None else "no answer"
    if not outcome.ok:
        raise fail(f"not sent ({status}): {outcome.excerpt}")
    typer.echo(f"sent to {row['name']} ({outcome.latency_ms} ms): {outcome.excerpt[:200]}")


def _row(dest: int) -> dict[str, Any]:
    """The notification's full row (its secret too), or the command fails."""
    try:
        with transaction(open_engine(), write=False) as conn:
            account = outbox_repo.account_of(conn, dest)
            row = outbox_repo.destination(conn, account, dest) if account is not None else None
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    if row is None or row["kind"] not in rules.KINDS:
        raise fail(f"no notification {dest}")
    return row
