"""`callpath feed`: conversion feeds an ad platform fetches over HTTPS on its own
schedule (Google Ads' scheduled uploads), with a username and password."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from callpath.cli.common import fail, open_engine, public_base_url, site_row
from callpath.services import feeds, setup
from callpath.storage.db import transaction

feed_app = typer.Typer(
    help="Conversion feeds Google Ads fetches over HTTPS (scheduled uploads).",
    no_args_is_help=True,
)
PATHS = {"google_ads": "/feeds/google-ads/{id}.csv"}


@feed_app.command("add")
def feed_add(
    site: Annotated[str, typer.Option(help="Site key (or id).")],
    conversion_name: Annotated[
        str,
        typer.Option(help="The conversion action's name in Google Ads, exactly as there."),
    ],
    days: Annotated[
        int,
        typer.Option(
            help=f"The feed holds the calls of this many last days (1 to {feeds.DAYS_MAX}).",
        ),
    ] = feeds.DAYS_DEFAULT,
    all_calls: Annotated[
        bool,
        typer.Option("--all-calls", help="Every call counts, not only target calls (the default)."),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(help="This server's public HTTPS base URL (default: $CALLPATH_PUBLIC_URL)."),
    ] = None,
) -> None:
    """Make a Google Ads click conversions feed of the site and print its URL, username and
    password (shown only now: only its hash is kept), the three fields of a scheduled
    upload from HTTPS in Google Ads.

    Each fetch answers the file `callpath export google-ads` makes, of the calls of the
    last --days days up to the moment of the fetch."""
    try:
        base = public_base_url(server)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        with transaction(open_engine()) as conn:
            row = site_row(conn, site)
            made = feeds.create_feed(
                conn, row, "google_ads", conversion_name, days, all_calls, time.time()
            )
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    feed = made.feed
    path = PATHS[feed.kind].format(id=feed.id)
    typer.echo(
        f"feed {feed.id} of site {feed.site_key}: {_what(feed)}\n"
        "In Google Ads: Goals > Conversions > Uploads > Schedules > + > source HTTPS:\n"
        f"  URL:       {base or 'https://<this server>'}{path}\n"
        f"  Username:  {feed.id}\n"
        f"  Password:  {made.password}\n"
        "The password is shown only now; a lost one means a new feed (feed remove, feed add)."
    )
    if base is None:
        typer.echo(
            "note: no --server and no CALLPATH_PUBLIC_URL: put this server's public HTTPS "
            "address before the path",
            err=True,
        )
    elif not base.startswith("https://"):
        typer.echo("note: Google Ads fetches from HTTPS addresses only", err=True)


@feed_app.command("list")
def feed_list(
    site: Annotated[str | None, typer.Option(help="Only this site's (its key or id).")] = None,
) -> None:
    """Feeds that were not removed: id (the username), site, what they hold, when made,
    when last fetched. A site that does not exist is an error, not an empty list."""
    try:
        with transaction(open_engine(), write=False) as conn:
            only = int(site_row(conn, site)["id"]) if site is not None else None
            found = feeds.list_feeds(conn, only)
    except setup.SetupError as exc:
        raise fail(str(exc)) from exc
    for feed in found:
        fetched = feed.last_fetched_at
        last = f"last fetched {_when(fetched)}" if fetched is not None else "never fetched"
        typer.echo(
            f"{feed.id}\tsite {feed.site_key}\t{_what(feed)}\tmade {_when(feed.created_at)}\t{last}"
        )
    if not found:
        typer.echo("no feeds")


@feed_app.command("remove")
def feed_remove(
    feed_id: Annotated[str, typer.Argument(metavar="ID", help="The feed's id (its username).")],
) -> None:
    """Remove a feed: from now on its URL answers 401 to everyone. Its id is never given
    to another feed."""
    wanted = feed_id.strip()
    with transaction(open_engine()) as conn:
        removed = feeds.remove_feed(conn, wanted, time.time())
    if not removed:
        raise fail(f"no feed {wanted[:40]}")
    typer.echo(f"feed {wanted} removed")


def _what(feed: feeds.Feed) -> str:
    calls = "every call" if feed.all_calls else "target calls"
    return f'"{feed.conversion_name}", {calls} of the last {feed.days} days'


def _when(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
