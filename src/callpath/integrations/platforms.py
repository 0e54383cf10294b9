"""The ad and analytics platforms as destinations of a site: Yandex Metrica (calls upload,
won deals as offline conversions), GA4 (Measurement Protocol), Meta (Conversions API).
Each is checked when added (its ids' shape, the API address through the address guard)
and takes the site's lead events (an ended call is sent once its lead exists) and, for
Metrica, its deals. Raises `SetupError` (400) and `NotFound` (404)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection

from callpath.integrations.destinations import Added, check_site, found
from callpath.integrations.ga4 import measurement as ga4
from callpath.integrations.http import Refused, check_url
from callpath.integrations.meta import conversions as meta
from callpath.integrations.metrica import api as metrica
from callpath.integrations.metrica.calls_csv import ID_KINDS
from callpath.services.site_input import SetupError
from callpath.storage import outbox_repo

LEADS = "lead.created,lead.classified"
OFFICIAL = frozenset({metrica.API, ga4.API, meta.API})  # public: guarded when connecting
_COUNTER = re.compile(r"[0-9]{1,12}")
_GOAL = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_TOKEN_MAX = 500


def add_metrica(
    conn: Connection,
    account_id: int,
    site_id: int,
    counter: str,
    token: str,
    now: float,
    id_kind: str = "client-id",
    deal_goal: str | None = None,
    api_url: str | None = None,
    allow_private: bool = False,
) -> Added:
    if not _COUNTER.fullmatch(counter.strip()):
        raise SetupError("counter: the Metrica counter's number (digits)")
    if id_kind not in ID_KINDS:
        raise SetupError("id: client-id or yclid")
    if deal_goal is not None and not _GOAL.fullmatch(deal_goal):
        raise SetupError(
            "deal goal: the identifier of a JavaScript-event goal (letters, digits, _ . -)"
        )
    config = {"counter": counter.strip(), "id_kind": id_kind, "deal_goal": deal_goal}
    events = LEADS + (",deal.updated" if deal_goal else "")
    name = f"Yandex Metrica {counter.strip()}"
    return _add(
        conn,
        account_id,
        site_id,
        "metrica",
        name,
        api_url or metrica.API,
        token,
        events,
        config,
        allow_private,
        now,
    )


def add_ga4(
    conn: Connection,
    account_id: int,
    site_id: int,
    measurement_id: str,
    api_secret: str,
    now: float,
    api_url: str | None = None,
    allow_private: bool = False,
) -> Added:
    if not ga4.valid_measurement_id(measurement_id.strip()):
        raise SetupError("measurement id: the data stream's id, G-…")
    config = {"measurement_id": measurement_id.strip()}
    name = f"GA4 {measurement_id.strip()}"
    return _add(
        conn,
        account_id,
        site_id,
        "ga4",
        name,
        api_url or ga4.API,
        api_secret,
        LEADS,
        config,
        allow_private,
        now,
    )


def add_meta(
    conn: Connection,
    account_id: int,
    site_id: int,
    pixel_id: str,
    token: str,
    now: float,
    test_event_code: str | None = None,
    api_url: str | None = None,
    allow_private: bool = False,
) -> Added:
    if not meta.valid_pixel(pixel_id.strip()):
        raise SetupError("pixel: the Meta pixel (dataset) id, digits")
    config = {"pixel_id": pixel_id.strip(), "test_event_code": (test_event_code or None)}
    name = f"Meta pixel {pixel_id.strip()}"
    return _add(
        conn,
        account_id,
        site_id,
        "meta",
        name,
        api_url or meta.API,
        token,
        LEADS,
        config,
        allow_private,
        now,
    )


def _add(
    conn: Connection,
    account_id: int,
    site_id: int,
    kind: str,
    name: str,
    url: str,
    secret: str,
    events: str,
    config: dict[str, Any],
    allow_private: bool,
    now: float,
) -> Added:
    secret = secret.strip()
    if not secret or len(secret) > _TOKEN_MAX or not secret.isprintable():
        raise SetupError(f"token: the {name.split()[0]} token or secret, as given there")
    if url not in OFFICIAL:  # another address (a proxy, a test server): checked now
        try:
            check_url(url, allow_private)
        except Refused as exc:
            raise SetupError(f"api url: {exc}") from exc
    check_site(conn, account_id, site_id)
    dest_id = outbox_repo.add_destination(
        conn,
        {
            "account_id": account_id,
            "kind": kind,
            "name": name,
            "url": url.rstrip("/"),
            "secret": secret,
            "events": events,
            "site_id": site_id,
            "allow_private": allow_private,
            "config": config,
            "created_at": now,
        },
    )
    return Added(found(conn, account_id, dest_id), "")
