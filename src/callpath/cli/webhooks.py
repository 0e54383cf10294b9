"""`callpath webhook …`: an account's events posted to a URL, signed; their delivery log.
`callpath outbox run`: the delivery process in the foreground (`serve` starts one).

Destinations and deliveries are named by their ids (the CLI speaks for the whole
installation); a new one names its account.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from callpath import settings as settings_mod
from callpath.cli.common import account_exists, fail, open_engine, site_of
from callpath.domain.outbox import EVENT_TYPES
from callpath.integrations import destinations
from callpath.integrations.http import Client
from callpath.services import setup
from callpath.storage import outbox_repo
from callpath.storage.db import transaction
from callpath.storage.tables import MAX_ID
from callpath.workers.delivery import Deliverer

webhook_app = typer.Typer(
    help="Webhooks out: calls, leads and deals posted to your URL, signed.",
    no_args_is_help=True,
)
outbox_app = typer.Typer(help="The outbox's delivery process.", no_args_is_help=True)
DestId = Annotated[int, typer.Argument(help="The webhook's id.", min=1, max=MAX_ID)]
_SIGNING = (
    "Each POST carries X-Callpath-Timestamp and X-Callpath-Signature = "
    'hex(HMAC-SHA256(secret, timestamp + "." + body)); X-Callpath-Event is the '
    "event's id, the same on every retry: ignore one you have."
)


@webhook_app.command("add")
def webhook_add(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
    url: Annotated[str, typer.Option(help="The receiver's http(s) URL.")],
    events: Annotated[
        str, typer.Option(help="Comma-separated: " + ", ".join(EVENT_TYPES) + ", or all.")
    ],
    site: Annotated[str | None, typer.Option(help="Only this site's events (key or id).")] = None,
    name: Annotated[str | None, typer.Option(help="A name to tell webhooks apart.")] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Allow a private or loopback address (a service on your own network): "
            "your explicit consent, refused otherwise.",
        ),
    ] = False,
) -> None:
    """Add a webhook and print its id and signing secret (shown only now)."""
    try:
        with transaction(open_engine()) as conn:
            account_exists(conn, account)
            site_id = site_of(conn, site, account)
            added = destinations.add_webhook(
                conn, account, url, events, time.time(), name, site_id, allow_private
            )
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    row = added.destination
    typer.echo(
        f"webhook {row['id']} for account {account} → {row['url']}\n"
        f"events: {row['events'].replace(',', ', ')}\n"
        f"secret: {added.secret}   (shown only now)\n{_SIGNING}"
    )


@webhook_app.command("list")
def webhook_list(
    account: Annotated[int, typer.Option(help="The account's id.", min=1, max=MAX_ID)],
) -> None:
    """The account's destinations (webhooks, platforms, CRMs): id, kind, state, URL,
    events, deliveries waiting and given up. `log`, `replay`, `pause`, `resume` and
    `remove` take any of their ids."""
    try:
        with transaction(open_engine(), write=False) as conn:
            account_exists(conn, account)
            rows = destinations.listed(conn, account)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for r in rows:
        typer.echo(
            f"{r['id']}\t{r['kind']}\t{_state(r)}\t{r['url']}\t{r['events']}\t"
            f"pending {r['pending']}\tfailed {r['failed']}"
        )
    if not rows:
        typer.echo("no webhooks or other destinations")


@webhook_app.command("remove")
def webhook_remove(dest: DestId) -> None:
    """Remove the webhook, with its queued deliveries and their log."""
    _act(dest, lambda conn, account: destinations.remove(conn, account, dest))
    typer.echo(f"webhook {dest} removed")


@webhook_app.command("pause")
def webhook_pause(dest: DestId) -> None:
    """Stop sending (events keep queueing: `resume` delivers them)."""
    _act(dest, lambda conn, account: destinations.pause(conn, account, dest, time.time()))
    typer.echo(f"webhook {dest} paused; its events queue up until it is resumed")


@webhook_app.command("resume")
def webhook_resume(dest: DestId) -> None:
    """Send again, the queued events first (also after a pause for failing)."""
    _act(dest, lambda conn, account: destinations.resume(conn, account, dest))
    typer.echo(f"webhook {dest} resumed")


@webhook_app.command("log")
def webhook_log(
    dest: DestId,
    state: Annotated[str | None, typer.Option(help="Only: pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.", min=1, max=500)] = 50,
) -> None:
    """Deliveries: id, state, event, attempts, last HTTP status and latency, last error."""
    rows: list[dict[str, Any]] = []

    def read(conn: Any, account: int) -> None:
        rows.extend(destinations.log(conn, account, dest, limit, state))

    _act(dest, read, write=False)
    for r in rows:
        status = r["last_status"] if r["last_status"] is not None else "-"
        latency = f"{r['last_latency_ms']} ms" if r["last_latency_ms"] is not None else "-"
        typer.echo(
            f"{r['id']}\t{r['state']}\t{r['type']} {r['subject']}\t{_when(r['event_at'])}\t"
            f"attempts {r['attempts']}\t{status}\t{latency}\t{r['last_error'] or ''}"
        )
    if not rows:
        typer.echo("no deliveries")


@webhook_app.command("replay")
def webhook_replay(
    dest: DestId,
    delivery: Annotated[
        int | None, typer.Option(help="Only this delivery (its id).", min=1, max=MAX_ID)
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Events from this UTC day (YYYY-MM-DD).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="…to this UTC day, whole.")] = None,
) -> None:
    """Send again one delivery, or every delivery of a period (delivered ones too)."""
    if (delivery is None) == (start is None and end is None):
        raise fail("give --delivery ID, or --from DAY and --to DAY")
    done: list[int] = []

    def replay(conn: Any, account: int) -> None:
        now = time.time()
        if delivery is not None:
            row = destinations.delivery(conn, account, delivery)
            if row["destination_id"] != dest:
                raise setup.NotFound(f"no delivery {delivery} of webhook {dest}")
            destinations.replay_one(conn, account, delivery, now)
            done.append(1)
        else:
            since, until = _day(start or end or ""), _day(end or start or "") + 86_400
            done.append(destinations.replay_period(conn, account, dest, since, until, now))

    _act(dest, replay)
    typer.echo(f"{done[0]} deliveries due again now")


def _act(dest: int, work: Any, write: bool = True) -> None:
    try:
        with transaction(open_engine(), write=write) as conn:
            account = outbox_repo.account_of(conn, dest)
            if account is None:
                raise setup.NotFound(f"no webhook {dest}")
            work(conn, account)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc


def _state(row: dict[str, Any]) -> str:
    if row["paused_at"] is None:
        return "active"
    return "paused (failing)" if row["paused_reason"] == "failing" else "paused"


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _day(text: str) -> float:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise setup.SetupError(f"{text[:20]!r}: a day as YYYY-MM-DD") from None


@outbox_app.command("run")
def outbox_run(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
) -> None:
    """Send due deliveries until interrupted (Ctrl-C), as `serve`'s delivery process does."""
    settings = settings_mod.load()
    engine = open_engine()
    client = Client()
    deliverer = Deliverer(engine, time.time, client, settings.outbox_first_retry, settings=settings)
    try:
        if once:
            typer.echo(f"{deliverer.round()} deliveries tried")
            deliverer.close()
            return
        stop = threading.Event()
        try:
            deliverer.run(stop)
        except KeyboardInterrupt:
            stop.set()
    finally:
        client.close()
        engine.dispose()
