"""An account's destinations managed from the command line, the API and the pages alike:
added (checked: URL, address guard, events, site), listed, paused, resumed, removed;
their delivery log read and deliveries sent again. Every lookup is scoped by account.
Raises `SetupError` (bad input, 400) and `NotFound` (404)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.domain import outbox as rules
from callpath.integrations.bitrix24 import rest as bitrix24_rest
from callpath.integrations.http import Refused, check_url
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import outbox_repo, site_repo

Row = dict[str, Any]
URL_MAX = 2000
NAME_MAX = 200
LOG_MAX = 500
SECRET_URLS = ("bitrix24",)  # kinds whose URL holds their secret: never shown whole


@dataclass(frozen=True, slots=True)
class Added:
    destination: Row
    secret: str  # shown once


def add_webhook(
    conn: Connection,
    account_id: int,
    url: str,
    events: str | list[str],
    now: float,
    name: str | None = None,
    site_id: int | None = None,
    allow_private: bool = False,
) -> Added:
    """A webhook destination and its signing secret. `allow_private` is an admin's
    explicit consent to a private or loopback address (a service on the office network)."""
    url = (url or "").strip()
    if not url or len(url) > URL_MAX:
        raise SetupError(f"url: give the receiver's http(s) URL (at most {URL_MAX} characters)")
    try:
        check_url(url, allow_private)
    except Refused as exc:
        raise SetupError(f"url: {exc}") from exc
    try:
        wanted = rules.event_list(events)
    except rules.BadEvents as exc:
        raise SetupError(f"events: {exc}") from exc
    if site_id is not None:
        check_site(conn, account_id, site_id)
    secret = secrets.token_urlsafe(32)
    dest_id = outbox_repo.add_destination(
        conn,
        {
            "account_id": account_id,
            "kind": "webhook",
            "name": (name or "").strip()[:NAME_MAX] or url[:NAME_MAX],
            "url": url,
            "secret": secret,
            "events": ",".join(wanted),
            "site_id": site_id,
            "allow_private": allow_private,
            "config": {},
            "created_at": now,
        },
    )
    return Added(found(conn, account_id, dest_id), secret)


def check_site(conn: Connection, account_id: int, site_id: int) -> None:
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")


def listed(conn: Connection, account_id: int) -> list[Row]:
    """The account's destinations; a URL that is itself a secret (a Bitrix24 incoming
    webhook's) masked."""
    return [_shown(row) for row in outbox_repo.destinations_of(conn, account_id)]


def _shown(row: Row) -> Row:
    if row["kind"] in SECRET_URLS:
        return {**row, "url": bitrix24_rest.masked(str(row["url"]))}
    return row


def found(conn: Connection, account_id: int, dest_id: int) -> Row:
    """One destination, as listed (never its secret)."""
    for row in listed(conn, account_id):
        if row["id"] == dest_id:
            return row
    raise NotFound(f"no destination {dest_id} in this account")


def remove(conn: Connection, account_id: int, dest_id: int) -> None:
    if not outbox_repo.remove_destination(conn, account_id, dest_id):
        raise NotFound(f"no destination {dest_id} in this account")


def pause(conn: Connection, account_id: int, dest_id: int, now: float) -> Row:
    found(conn, account_id, dest_id)
    outbox_repo.set_paused(conn, account_id, dest_id, now, rules.PAUSED_BY_USER)
    return found(conn, account_id, dest_id)


def resume(conn: Connection, account_id: int, dest_id: int) -> Row:
    """Deliveries go on; those that waited are due at their time (or now if past)."""
    found(conn, account_id, dest_id)
    outbox_repo.set_paused(conn, account_id, dest_id, None, None)
    return found(conn, account_id, dest_id)


def log(
    conn: Connection,
    account_id: int,
    dest_id: int,
    limit: int = 50,
    state: str | None = None,
    before: int | None = None,
) -> list[Row]:
    found(conn, account_id, dest_id)
    if state is not None and state not in ("pending", "delivered", "failed"):
        raise SetupError("state: one of pending, delivered, failed")
    return outbox_repo.log(conn, account_id, dest_id, max(1, min(limit, LOG_MAX)), state, before)


def delivery(conn: Connection, account_id: int, delivery_id: int) -> Row:
    """One delivery with its event's payload and every attempt."""
    row = outbox_repo.delivery(conn, account_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id} in this account")
    return {**row, "attempts_made": outbox_repo.attempts_of(conn, account_id, delivery_id)}


def replay_one(conn: Connection, account_id: int, delivery_id: int, now: float) -> Row:
    row = outbox_repo.delivery(conn, account_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id} in this account")
    outbox_repo.replay(conn, account_id, int(row["destination_id"]), now, delivery_id=delivery_id)
    return delivery(conn, account_id, delivery_id)


def replay_period(
    conn: Connection, account_id: int, dest_id: int, since: float, until: float, now: float
) -> int:
    """Every delivery to the destination whose event happened in [since, until), sent
    again (delivered ones too: a receiver that lost its data asks for them)."""
    found(conn, account_id, dest_id)
    if until <= since:
        raise SetupError("the period's end must come after its start")
    return outbox_repo.replay(conn, account_id, dest_id, now, since=since, until=until)
