"""An amoCRM account connected as a destination of kind `amocrm`: its base URL (checked
by the address guard), its long-lived token, the pipeline new leads go to, the ids of
custom fields for the visit's tags; and the token of the webhook URL amoCRM posts its
leads' changes to (random, shown when connected: amoCRM does not sign webhooks).

The access token is kept in `config` (a JWT runs to a kilobyte, past the `secret`
column), `secret` holds the webhook URL's token; neither is ever listed."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection

from callpath.integrations.amocrm.leads import FIELDS
from callpath.integrations.http import Refused, check_url
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import outbox_repo, site_repo

Row = dict[str, Any]
KIND = "amocrm"
EVENTS = "lead.created"
_TOKEN = re.compile(r"^[A-Za-z0-9._~+/=-]{20,4000}$")
ID_MAX = 2**53


@dataclass(frozen=True, slots=True)
class Connected:
    destination: Row
    hook_token: str  # shown once, in the webhook URL


def hook_path(dest_id: int, token: str) -> str:
    return f"/hooks/amocrm/{dest_id}/{token}"


def connect(
    conn: Connection,
    account_id: int,
    url: str,
    token: str,
    now: float,
    site_id: int | None = None,
    pipeline_id: int | None = None,
    fields: Mapping[str, int] | None = None,
    allow_private: bool = False,
) -> Connected:
    base = base_url(url, allow_private)
    token = (token or "").strip()
    if not _TOKEN.match(token):
        raise SetupError("token: paste the long-lived token amoCRM generated (Keys and scopes)")
    if pipeline_id is not None and not 0 < pipeline_id < ID_MAX:
        raise SetupError("pipeline: an amoCRM pipeline id")
    if site_id is not None:
        site = site_repo.site_row(conn, site_id=site_id)
        if site is None or site["account_id"] != account_id:
            raise NotFound(f"no site {site_id} in this account")
    hook_token = secrets.token_urlsafe(32)
    dest_id = outbox_repo.add_destination(
        conn,
        {
            "account_id": account_id,
            "kind": KIND,
            "name": urlsplit(base).hostname or base,
            "url": base,
            "secret": hook_token,
            "events": EVENTS,
            "site_id": site_id,
            "allow_private": allow_private,
            "config": {
                "token": token,
                "pipeline_id": pipeline_id,
                "fields": field_ids(fields or {}),
            },
            "created_at": now,
        },
    )
    row = next(r for r in outbox_repo.destinations_of(conn, account_id, KIND) if r["id"] == dest_id)
    return Connected(row, hook_token)


def base_url(url: str, allow_private: bool) -> str:
    """https://SUBDOMAIN.amocrm.ru (or .kommo.com), nothing after the host; plain http
    only with `allow_private` (a proxy or a test server of your own)."""
    text = (url or "").strip().rstrip("/")
    parts = urlsplit(text)
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username
        or len(text) > 200
    ):
        raise SetupError("url: the account's address, like https://yourcompany.amocrm.ru")
    if parts.scheme == "http" and not allow_private:
        raise SetupError("url: amoCRM is reached over https://")
    try:
        check_url(text, allow_private)
    except Refused as exc:
        raise SetupError(f"url: {exc}") from exc
    return text


def field_ids(given: Mapping[str, int]) -> dict[str, int]:
    found = {}
    for name, field_id in given.items():
        if name not in FIELDS:
            raise SetupError(f"field: {name[:40]!r} is not one of {', '.join(FIELDS)}")
        if not 0 < int(field_id) < ID_MAX:
            raise SetupError(f"field: {name}: an amoCRM field id")
        found[name] = int(field_id)
    return found


def listed(conn: Connection, account_id: int) -> list[Row]:
    return outbox_repo.destinations_of(conn, account_id, KIND)


def remove(conn: Connection, account_id: int, dest_id: int) -> None:
    """The connection, its queue, its log and its links to amoCRM's leads (deals recorded
    from it stay)."""
    if not any(r["id"] == dest_id for r in listed(conn, account_id)):
        raise NotFound(f"no amoCRM connection {dest_id} in this account")
    outbox_repo.remove_destination(conn, account_id, dest_id)
