"""Meta's Conversions API: `POST {api}/{pixel_id}/events` with
`{"data": [event], "access_token": …}`; a call is an event with `action_source`
`phone_call`, the caller's number hashed as Meta normalises it (digits with the country
code, no `+` or leading zeros, then SHA-256 hex), and `fbc` made of the visit's `fbclid`
(`fb.1.<first seen, ms>.<fbclid>`). `event_id` is the call's id: Meta drops a repeat of
the same event name and id, so a retry never counts twice. Events older than 7 days are
refused by Meta and not sent."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from callpath.integrations import events
from callpath.integrations.http import Outcome, OutRequest, skipped
from callpath.integrations.sending import Context

API = "https://graph.facebook.com/v21.0"
EVENT = "Lead"
MAX_AGE = 7 * 86_400 - 600
_PIXEL = re.compile(r"[0-9]{5,20}")


def valid_pixel(text: str) -> bool:
    return bool(_PIXEL.fullmatch(text))


def hashed_phone(e164: str | None) -> str | None:
    """Digits only, country code first, no leading zeros; SHA-256 hex (None: no number)."""
    digits = re.sub(r"[^0-9]", "", e164 or "").lstrip("0")
    return hashlib.sha256(digits.encode()).hexdigest() if len(digits) >= 7 else None


def fbc(session: Mapping[str, Any]) -> str | None:
    click = (session.get("click_ids") or {}).get("fbclid")
    seen = events.moment(session.get("started_at"))
    if not isinstance(click, str) or not click or seen is None:
        return None
    return f"fb.1.{int(seen * 1000)}.{click[:500]}"


def lead_event(payload: Mapping[str, Any], now: float) -> dict[str, Any] | None:
    call, lead = payload.get("call") or {}, payload.get("lead") or {}
    session = (payload.get("attribution") or {}).get("session") or {}
    user: dict[str, Any] = {}
    phone = hashed_phone(call.get("caller"))
    if phone:
        user["ph"] = [phone]
    click = fbc(session)
    if click:
        user["fbc"] = click
    if not user:
        return None
    started = events.moment(call.get("started_at")) or now
    return {
        "event_name": EVENT,
        "event_time": int(min(started, now)),
        "event_id": str(call.get("id")),
        "action_source": "phone_call",
        "user_data": user,
        "custom_data": {
            "lead_event_source": "callpath",
            "first_time": bool(lead.get("first_time")),
            "target": bool(lead.get("target")),
        },
    }


def send(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    payload = event["payload"] or {}
    why = events.not_sendable(payload)
    if why:
        return skipped(why)
    started = events.moment((payload.get("call") or {}).get("started_at")) or now
    if now - started > MAX_AGE:
        return skipped("older than Meta takes (7 days)")
    found = lead_event(payload, now)
    if found is None:
        return skipped("no caller number or click id to match the call to a person")
    config = destination["config"] or {}
    body: dict[str, Any] = {"data": [found], "access_token": destination["secret"]}
    if config.get("test_event_code"):
        body["test_event_code"] = str(config["test_event_code"])
    url = f"{str(destination['url']).rstrip('/')}/{quote(str(config.get('pixel_id', '')))}/events"
    return ctx.client.send(
        OutRequest(
            "POST",
            url,
            {"Content-Type": "application/json"},
            json.dumps(body, separators=(",", ":")).encode(),
            bool(destination["allow_private"]),
        )
    )
