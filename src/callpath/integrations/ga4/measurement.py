"""GA4's Measurement Protocol: `POST {api}/mp/collect?measurement_id=G-…&api_secret=…`
with `{"client_id", "timestamp_micros", "events": [{"name", "params"}]}`. The client id is
the visit's `_ga` cookie (`123.456`); an event name and a parameter name are at most 40
characters, a value at most 100, at most 25 parameters; the time may be up to 72 hours
back. GA answers 2xx even to what it drops (`/debug/mp/collect` tells why); events
have no dedup key, so each call is sent at most once."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from callpath.integrations import events
from callpath.integrations.http import Outcome, OutRequest, skipped
from callpath.integrations.sending import Context, at_most_once

API = "https://www.google-analytics.com"
EVENT = "phone_call"
BACK_LIMIT = 72 * 3600 - 600  # what GA still takes, with a margin
_CLIENT = re.compile(r"[0-9]{1,20}\.[0-9]{1,20}")
_MEASUREMENT = re.compile(r"G-[A-Z0-9]{4,20}")


def valid_measurement_id(text: str) -> bool:
    return bool(_MEASUREMENT.fullmatch(text))


def call_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The call as one event: its outcome, what it counts as and the channel it is
    credited to, every value cut to GA's limits."""
    call, lead = payload.get("call") or {}, payload.get("lead") or {}
    channel = (payload.get("attribution") or {}).get("channel") or {}
    params: dict[str, Any] = {
        "call_id": call.get("id"),
        "talk_seconds": round(float(call.get("talk") or 0.0)),
        "wait_seconds": round(float(call.get("wait") or 0.0)),
        "missed": 1 if lead.get("missed") else 0,
        "first_time": 1 if lead.get("first_time") else 0,
        "target": 1 if lead.get("target") else 0,
        "call_source": channel.get("source"),
        "call_medium": channel.get("medium"),
        "call_campaign": channel.get("campaign"),
    }
    kept = {
        k[:40]: (v[:100] if isinstance(v, str) else v) for k, v in params.items() if v is not None
    }
    return {"name": EVENT, "params": dict(list(kept.items())[:25])}


def send(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    payload = event["payload"] or {}
    why = events.not_sendable(payload)
    if why:
        return skipped(why)
    session = (payload.get("attribution") or {}).get("session") or {}
    client = (session.get("client_ids") or {}).get("ga")
    if not isinstance(client, str) or not _CLIENT.fullmatch(client):
        return skipped("the visit has no GA client id (_ga cookie)")
    started = events.moment((payload.get("call") or {}).get("started_at")) or now
    body: dict[str, Any] = {"client_id": client, "events": [call_event(payload)]}
    if now - started < BACK_LIMIT:
        body["timestamp_micros"] = int(started * 1_000_000)
    config = destination["config"] or {}
    query = urlencode(
        {"measurement_id": config.get("measurement_id", ""), "api_secret": destination["secret"]}
    )
    request = OutRequest(
        "POST",
        f"{str(destination['url']).rstrip('/')}/mp/collect?{query}",
        {"Content-Type": "application/json"},
        json.dumps(body, separators=(",", ":")).encode(),
        bool(destination["allow_private"]),
    )
    call_id = str((payload.get("call") or {}).get("id"))
    return at_most_once(
        ctx, destination, ("call", call_id), call_id, now, lambda: ctx.client.send(request)
    )
