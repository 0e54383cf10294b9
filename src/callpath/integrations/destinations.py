"""An account's destinations managed from the command line, the API and the pages alike:
added (checked: URL, address guard, events, site), listed, paused, resumed, removed;
their delivery log read and deliveries sent again. Every lookup is scoped by account.
Raises `SetupError` (bad input, 400) and `NotFound` (404)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.domain import notify
from callpath.domain import outbox as rules
from callpath.integrations.bitrix24 import rest as bitrix24_rest
from callpath.integrations.http import Refused, check_url
from callpath.integrations.notify.mail import NOT_CONFIGURED
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import delivery_log_repo, outbox_repo, site_repo, user_repo

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


@dataclass(frozen=True, slots=True)
class Notification:
    """What a notification destination is given (`domain.notify` checks each part)."""

    kind: str  # email | telegram
    on: str | list[str]
    to: str | None = None  # the e-mail address (else the user's) or the Telegram chat id
    token: str | None = None  # the Telegram bot's
    site_id: int | None = None
    quiet: str | None = None  # "22:00-08:00"
    lost_after: int = notify.LOST_AFTER
    digest_at: str = notify.DIGEST_AT
    user_id: int | None = None
    allow_private: bool = False  # the Bot API at a private address (a proxy, a test)


def add_notification(
    conn: Connection, account_id: int, given: Notification, now: float, email_ready: bool
) -> Row:
    """An e-mail or Telegram destination taking `lead.created` (its notices are decided
    when sent, `integrations.notify.sender`) and, if asked, queued digests. E-mail is
    refused while no mail server is configured (`email_ready`)."""
    if given.kind not in notify.KINDS:
        raise SetupError(f"kind: one of {', '.join(notify.KINDS)}")
    if given.kind == "email" and not email_ready:
        raise SetupError(NOT_CONFIGURED)
    try:
        config = notify.Config(
            notify.notices(given.on),
            notify.lost_after(given.lost_after),
            notify.quiet_hours(given.quiet) if given.quiet else None,
            notify.clock(given.digest_at),
            given.user_id,
        )
    except notify.BadNotify as exc:
        raise SetupError(str(exc)) from exc
    user = _own_user(conn, account_id, given.user_id) if given.user_id is not None else None
    if given.site_id is not None:
        check_site(conn, account_id, given.site_id)
    to = given.to or (str(user["email"]) if user and given.kind == "email" else "")
    try:
        if given.kind == "email":
            url, secret, name = _email(to)
        else:
            url, secret, name = _telegram(to, given.token or "")
    except notify.BadNotify as exc:
        raise SetupError(str(exc)) from exc
    dest_id = outbox_repo.add_destination(
        conn,
        {
            "account_id": account_id,
            "kind": given.kind,
            "name": name[:NAME_MAX],
            "url": url,
            "secret": secret,
            "events": notify.EVENTS,
            "site_id": given.site_id,
            "allow_private": given.allow_private,
            "config": config.stored(),
            "created_at": now,
        },
    )
    return found(conn, account_id, dest_id)


def _email(to: str) -> tuple[str, str, str]:
    if not to:
        raise notify.BadNotify("give the e-mail address (or the user it is for)")
    address = notify.email_address(to)
    return f"mailto:{address}", "", f"e-mail to {address}"


def _telegram(to: str, token: str) -> tuple[str, str, str]:
    if not to:
        raise notify.BadNotify("give the Telegram chat id")
    chat = notify.chat_id(to)
    return f"telegram:{chat}", notify.bot_token(token), f"Telegram chat {chat}"


def _own_user(conn: Connection, account_id: int, user_id: int) -> Row:
    user = user_repo.account_user(conn, account_id, user_id)
    if user is None:
        raise NotFound(f"no user {user_id} in this account")
    if user["deactivated_at"] is not None:
        raise SetupError(f"user {user_id} is deactivated")
    return user


def notifications(conn: Connection, account_id: int) -> list[Row]:
    """The account's e-mail and Telegram destinations, each with its config."""
    rows = []
    for kind in notify.KINDS:
        for row in outbox_repo.destinations_of(conn, account_id, kind):
            full = outbox_repo.destination(conn, account_id, int(row["id"])) or {}
            rows.append({**row, "config": full.get("config") or {}})
    return sorted(rows, key=lambda r: int(r["id"]))


def check_site(conn: Connection, account_id: int, site_id: int) -> None:
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")


def listed(conn: Connection, account_id: int, kind: str | None = None) -> list[Row]:
    """The account's destinations (of one kind: webhooks, say), never their secrets; a
    URL that is itself a secret (a Bitrix24 incoming webhook's) masked."""
    return [_shown(row) for row in outbox_repo.destinations_of(conn, account_id, kind)]


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
    return delivery_log_repo.log(
        conn, account_id, dest_id, max(1, min(limit, LOG_MAX)), state, before
    )


def delivery(conn: Connection, account_id: int, delivery_id: int) -> Row:
    """One delivery with its event's payload and every attempt."""
    row = delivery_log_repo.delivery(conn, account_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id} in this account")
    return {**row, "attempts_made": delivery_log_repo.attempts_of(conn, account_id, delivery_id)}


def replay_one(conn: Connection, account_id: int, delivery_id: int, now: float) -> Row:
    row = delivery_log_repo.delivery(conn, account_id, delivery_id)
    if row is None:
        raise NotFound(f"no delivery {delivery_id} in this account")
    delivery_log_repo.replay(
        conn, account_id, int(row["destination_id"]), now, delivery_id=delivery_id
    )
    return delivery(conn, account_id, delivery_id)


def replay_period(
    conn: Connection, account_id: int, dest_id: int, since: float, until: float, now: float
) -> int:
    """Every delivery to the destination whose event happened in [since, until), sent
    again (delivered ones too: a receiver that lost its data asks for them)."""
    found(conn, account_id, dest_id)
    if until <= since:
        raise SetupError("the period's end must come after its start")
    return delivery_log_repo.replay(conn, account_id, dest_id, now, since=since, until=until)
