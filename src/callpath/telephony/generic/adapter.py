"""Generic webhook: HMAC-signed JSON call events (see docs/webhooks.md).

Headers: `X-Callpath-Timestamp: <unix seconds>` and
`X-Callpath-Signature: hex(HMAC-SHA256(secret, timestamp + "." + raw_body))`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from callpath.domain.calls import DIRECTIONS, EVENT_KINDS, STATUSES, CallEvent, plausible_time
from callpath.telephony.base import BadEvent, Ignored, Unauthorized, finite, json_object

REPLAY_WINDOW = 300
MAX_SECONDS = 7 * 86_400
_TEXT_LIMITS = {"call_id": 200, "caller": 40, "called": 40, "recording_url": 2000}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str | None, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> None:
    """Raise `Unauthorized` unless the body was signed with `secret` within the window."""
    if not secret:
        raise Unauthorized("integration has no secret; refusing unsigned events")
    if not timestamp or not signature:
        raise Unauthorized("X-Callpath-Timestamp and X-Callpath-Signature are required")
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        raise Unauthorized("X-Callpath-Timestamp must be unix seconds")  # not '²' (isdigit)
    if abs(now - int(timestamp)) > REPLAY_WINDOW:
        raise Unauthorized("timestamp outside the 5 minute replay window")
    expected = sign(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, signature.strip().lower().encode("utf-8", "replace")):
        raise Unauthorized("bad signature")


def parse(body: bytes) -> tuple[CallEvent, str]:
    """The event and its dedup key (a retry of the same event has the same key)."""
    data = json_object(body)
    kind = data.get("event")
    if not isinstance(kind, str):
        raise BadEvent("event: required, one of " + ", ".join(EVENT_KINDS))
    if kind not in EVENT_KINDS:
        raise Ignored(f"event {kind[:40]!r} is not one callpath uses")
    texts = {name: _text(data, name) for name in _TEXT_LIMITS}
    if not texts["call_id"]:
        raise BadEvent("call_id: required")
    direction = _direction(data.get("direction"))
    if kind == "started" and not texts["called"]:
        raise BadEvent("called: required for a started event (it decides the routing)")
    event = CallEvent(
        kind=kind,
        call_id=str(texts["call_id"]),
        at=_at(data.get("at")),
        caller=texts["caller"],
        called=texts["called"],
        duration=_seconds(data, "duration"),
        talk=_seconds(data, "talk"),
        status=_status(data.get("status")),
        recording_url=_url(texts["recording_url"]),
        direction=direction,
    )
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return event, hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and name == "call_id":
        value = str(value)
    if not isinstance(value, str):
        raise BadEvent(f"{name}: must be a string")
    value = value.strip()
    if len(value) > _TEXT_LIMITS[name] or not value.isprintable():
        raise BadEvent(f"{name}: at most {_TEXT_LIMITS[name]} printable characters")
    return value or None


def _at(value: object) -> float:
    moment = _moment(value)
    if not plausible_time(moment):
        raise BadEvent("at: not a plausible time of a call")
    return moment


def _moment(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = finite(value)
        if number is None:
            raise BadEvent("at: not a plausible time of a call")
        return number
    if not isinstance(value, str) or len(value) > 40:
        raise BadEvent("at: required, an ISO-8601 time with its UTC offset")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise BadEvent(f"at: {value!r} is not an ISO-8601 time") from exc
    if moment.tzinfo is None:
        raise BadEvent("at: give the UTC offset (e.g. 2026-03-01T12:00:00+03:00 or …Z)")
    return moment.timestamp()


def _seconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEvent(f"{name}: must be a number of seconds")
    seconds = finite(value)
    if seconds is None or not 0 <= seconds <= MAX_SECONDS:
        raise BadEvent(f"{name}: must be between 0 and {MAX_SECONDS} seconds")
    return seconds


def _status(value: object) -> str | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise BadEvent("status: one of " + ", ".join(STATUSES))
    return str(value)


def _direction(value: object) -> str | None:
    """inbound (the default) or outbound: the business calling a customer (`caller` its
    line, `called` the customer), reported so a missed caller counts as called back."""
    if value is None:
        return None
    if value not in DIRECTIONS:
        raise BadEvent("direction: one of " + ", ".join(DIRECTIONS))
    return str(value)


def _url(value: str | None) -> str | None:
    if value is not None and not value.lower().startswith(("https://", "http://")):
        raise BadEvent("recording_url: must be an http(s) URL")
    return value


def instructions(url: str, secret: str) -> str:
    """What `callpath integration add` prints for a generic integration."""
    return (
        f"  url:    {url}\n"
        f"  secret: {secret}\n"
        "Sign each request: X-Callpath-Timestamp: <unix seconds>, X-Callpath-Signature: "
        'hex(HMAC-SHA256(secret, timestamp + "." + body)). See docs/webhooks.md.'
    )
