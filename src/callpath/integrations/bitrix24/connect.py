"""An account's Bitrix24 portals: a destination of kind `bitrix24` each.

Its `url` is the incoming webhook's (`…/rest/USER/CODE/`, the code being the secret: it
is never shown whole after it was given); its `config` holds the outgoing webhook's
application token, which deal events must carry. It takes `lead.created`: a call's lead
becomes a Bitrix24 lead once. A destination with a site takes that site's calls only,
and keeps deals that came from no call of ours under that site."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from callpath.integrations.bitrix24 import rest
from callpath.integrations.http import Refused, check_url
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import outbox_repo, site_repo

KIND = "bitrix24"
EVENTS = "lead.created"
NAME_MAX = 200
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{8,128}$")
Row = dict[str, Any]


def add(
    conn: Connection,
    account_id: int,
    webhook_url: str,
    now: float,
    application_token: str | None = None,
    site_id: int | None = None,
    allow_private: bool = False,
) -> Row:
    """The destination, as listed (its URL masked). `allow_private`: an admin's consent
    to a portal on a private address (an on-premise Bitrix24 on the office network)."""
    try:
        url = rest.base_url(webhook_url)
        check_url(url, allow_private)
    except (rest.BadWebhook, Refused) as exc:
        raise SetupError(f"webhook url: {rest.hide_code(str(exc), webhook_url)}") from exc
    config: Row = {}
    if application_token:
        config["application_token"] = token(application_token)
    if site_id is not None:
        site = site_repo.site_row(conn, site_id=site_id)
        if site is None or site["account_id"] != account_id:
            raise NotFound(f"no site {site_id} in this account")
    dest_id = outbox_repo.add_destination(
        conn,
        {
            "account_id": account_id,
            "kind": KIND,
            "name": f"Bitrix24 {rest.masked(url)}"[:NAME_MAX],
            "url": url,
            "secret": "",
            "events": EVENTS,
            "site_id": site_id,
            "allow_private": allow_private,
            "config": config,
            "created_at": now,
        },
    )
    return found(conn, account_id, dest_id)


def token(raw: str) -> str:
    text = (raw or "").strip()
    if not _TOKEN.match(text):
        raise SetupError(
            "application token: the outgoing webhook's token (letters and digits, 8 to 128)"
        )
    return text


def set_token(conn: Connection, account_id: int, dest_id: int, application_token: str) -> Row:
    row = _own(conn, account_id, dest_id)
    config = {**(row["config"] or {}), "application_token": token(application_token)}
    outbox_repo.set_config(conn, account_id, dest_id, config)
    return found(conn, account_id, dest_id)


def listed(conn: Connection, account_id: int) -> list[Row]:
    """The account's Bitrix24 destinations: URL masked, whether a token is set."""
    rows = outbox_repo.destinations_of(conn, account_id, kind=KIND)
    return [_shown(conn, account_id, row) for row in rows]


def found(conn: Connection, account_id: int, dest_id: int) -> Row:
    for row in listed(conn, account_id):
        if row["id"] == dest_id:
            return row
    raise NotFound(f"no Bitrix24 destination {dest_id} in this account")


def remove(conn: Connection, account_id: int, dest_id: int) -> None:
    _own(conn, account_id, dest_id)
    outbox_repo.remove_destination(conn, account_id, dest_id)


def hook_path(dest_id: int) -> str:
    """Where the outgoing webhook posts: this server's base URL + this path."""
    return f"/hooks/bitrix24/{dest_id}"


def _own(conn: Connection, account_id: int, dest_id: int) -> Row:
    row = outbox_repo.destination(conn, account_id, dest_id)
    if row is None or row["kind"] != KIND:
        raise NotFound(f"no Bitrix24 destination {dest_id} in this account")
    return row


def _shown(conn: Connection, account_id: int, row: Row) -> Row:
    full = outbox_repo.destination(conn, account_id, int(row["id"])) or {}
    has_token = bool((full.get("config") or {}).get("application_token"))
    return {**row, "url": rest.masked(str(row["url"])), "has_token": has_token}
