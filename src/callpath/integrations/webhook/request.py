"""One webhook delivery as an HTTP request: the event's envelope as JSON, signed the way
callpath's own inbound generic webhook is (`telephony.generic.adapter.sign`):

    X-Callpath-Timestamp: <unix seconds, when sent>
    X-Callpath-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))

`X-Callpath-Event` is the event's id, the same on every attempt and every replay, so a
receiver that has it already can answer 200 and do nothing (deliveries are at least
once: an answer lost on the way back means the event comes again)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from callpath.integrations.http import OutRequest
from callpath.telephony.generic.adapter import sign


def event_id(number: int) -> str:
    return f"evt_{number}"


def envelope(event: Mapping[str, Any], created_at: str | None) -> dict[str, Any]:
    return {
        "id": event_id(int(event["event_id"])),
        "type": event["type"],
        "created_at": created_at,
        "account_id": event["account_id"],
        "site_id": event["site_id"],
        "data": event["payload"],
    }


def request(
    destination: Mapping[str, Any], event: Mapping[str, Any], created_at: str | None, now: float
) -> OutRequest:
    body = json.dumps(envelope(event, created_at), separators=(",", ":"), ensure_ascii=False)
    raw = body.encode("utf-8")
    stamp = str(int(now))
    headers = {
        "Content-Type": "application/json",
        "X-Callpath-Timestamp": stamp,
        "X-Callpath-Signature": sign(str(destination["secret"]), stamp, raw),
        "X-Callpath-Event": event_id(int(event["event_id"])),
        "X-Callpath-Event-Type": str(event["type"]),
    }
    return OutRequest(
        "POST", str(destination["url"]), headers, raw, bool(destination["allow_private"])
    )
