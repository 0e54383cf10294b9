"""Zadarma / Novofon PBX notifications (API v1): form-encoded POSTs signed per event type.

Header `Signature: base64(hex(HMAC-SHA1(api_secret, fields joined in the event's order)))`
(`SIGNED` lists the order). Novofon runs the same API under its own name: one adapter.

The webhook stores `stored_body(fields, received_at)`: the notification's fields as sorted
JSON plus the moment it arrived, so `parse` rebuilds the event from the stored text alone.
Events are dated by arrival: Zadarma's `call_start` is a wall-clock time without a UTC
offset (the account's zone), and notifications are sent as the call progresses.

A call out (the PBX dialling a customer: NOTIFY_OUT_START, NOTIFY_OUT_END) becomes an
outbound call event: `destination` the customer, `caller_id` the line it showed; it is
never redirected (the answer to its OUT_START is an empty object).

What the signature leaves open is closed elsewhere: `freshness` refuses a notification
whose call started too long ago, `screen` folds an ANSWER or END only with the call's own
START, and `confirm` takes a call's outcome from Zadarma's call statistics when the
integration also holds the API key (its secret stored as `KEY:SECRET`). Those statistics
are stored as a `statistics` event of their own (`statistics_body`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
from typing import Any
from urllib.parse import parse_qsl

from callpath.domain import phone
from callpath.domain.calls import CallEvent, plausible_time
from callpath.telephony.base import BadEvent, Ignored, Unauthorized
from callpath.telephony.zadarma import freshness

# The documented signature string of each notification: its fields, concatenated.
SIGNED: dict[str, tuple[str, ...]] = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}
USED = (
    "NOTIFY_START",
    "NOTIFY_ANSWER",
    "NOTIFY_END",
    "NOTIFY_OUT_START",
    "NOTIFY_OUT_END",
    "NOTIFY_RECORD",
)
STARTS = ("NOTIFY_START", "NOTIFY_OUT_START")  # a call in; a call out (the PBX dialling)
ENDS = ("NOTIFY_END", "NOTIFY_OUT_END")
# NOTIFY_END `disposition` -> our status; anything else leaves it to the folding rules.
DISPOSITIONS = {
    "answered": "answered",
    "busy": "busy",
    "cancel": "missed",
    "no answer": "missed",
    "failed": "failed",
    "call failed": "failed",  # the statistics' spelling
    "no money": "failed",
    "unallocated number": "failed",
    "no limit": "failed",
    "no day limit": "failed",
    "line limit": "failed",
    "no money, no limit": "failed",
}
STATISTICS = "statistics"  # the stored kind of a call's line in Zadarma's statistics
RECORDING_PREFIX = "zadarma:"  # + call_id_with_rec: fetched through the API, not a URL
MAX_FIELDS, MAX_VALUE, MAX_SECONDS = 40, 200, 7 * 86_400


def read_form(raw: bytes) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` body; hostile input → BadEvent."""
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            strict_parsing=bool(text),
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        reason = f"body is not a form (application/x-www-form-urlencoded): {exc}"
        raise BadEvent(reason[:200]) from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise BadEvent(f"field {name[:40]!r} given twice")
        if len(name) > 40 or len(value) > MAX_VALUE or not (name + value).isprintable():
            raise BadEvent(f"field {name[:40]!r}: at most {MAX_VALUE} printable characters")
        fields[name] = value
    return fields


def credentials(stored: str | None) -> tuple[str | None, str]:
    """The API key (None: not given) and API secret in an integration's stored secret:
    `SECRET` for notifications only, `KEY:SECRET` to also read the call statistics."""
    key, sep, secret = (stored or "").partition(":")
    if sep and key and secret:
        return key, secret
    return None, stored or ""


def signature(secret: str, fields: dict[str, str]) -> str:
    """What Zadarma sends in `Signature` for these fields (their event's documented order)."""
    order = SIGNED.get(fields.get("event", ""), ())
    message = "".join(fields.get(name, "") for name in order)
    digest = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(digest.hexdigest().encode("ascii")).decode("ascii")


def verify(stored: str | None, given: str | None, fields: dict[str, str], now: float) -> None:
    """Raise `Unauthorized` unless `given` is the signature of `fields` under the API
    secret in `stored` (the integration's secret) and the call started recently enough
    (`freshness.check`, which may also raise `BadEvent`).

    An event kind callpath does not know has no documented signature; it is ignored
    (answered 200, never stored), so it is let through here for `parse` to say so."""
    if fields.get("event") not in SIGNED:
        return
    secret = credentials(stored)[1]
    if not secret:
        raise Unauthorized("integration has no API secret; refusing unsigned notifications")
    if not given:
        raise Unauthorized("Signature header is required (set the API key and secret)")
    if not hmac.compare_digest(signature(secret, fields).encode(), given.strip().encode()):
        raise Unauthorized("bad signature (is the integration's secret your API secret key?)")
    freshness.check(fields, now)


def stored_body(fields: dict[str, str], received_at: float) -> bytes:
    """What the webhook stores: the fields, and when they came (events are dated by it)."""
    data = {"fields": dict(sorted(fields.items())), "received_at": received_at}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def statistics_body(line: dict[str, Any], received_at: float) -> bytes:
    """What `confirm` stores for a call: its line in Zadarma's PBX statistics
    (`pbx_call_id`, `disposition`, `seconds`) or `{"pbx_call_id": …, "found": false}`."""
    data = {STATISTICS: dict(sorted(line.items())), "received_at": received_at}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def statistics_key(pbx_call_id: str) -> str:
    """One statistics event per call: confirming it again changes nothing."""
    return hashlib.sha256(f"{STATISTICS}\x00{pbx_call_id}".encode()).hexdigest()


def parse(body: bytes) -> tuple[CallEvent, str]:
    """The event of a stored body, and its dedup key (the fields' digest: a retry of a
    notification has the same key, whenever it came)."""
    line = statistics_line(body)
    if line is not None:
        return _confirmed(line, _stored(body, STATISTICS)[1])
    fields, at = _stored(body)
    name = fields.get("event", "")
    if not name:
        raise BadEvent("event: required (NOTIFY_START, NOTIFY_END, NOTIFY_OUT_START, ...)")
    if name not in USED:
        raise Ignored(f"event {name[:40]!r} is not one callpath uses")
    call_id = fields.get("pbx_call_id", "").strip()
    if not call_id:
        raise BadEvent("pbx_call_id: required")
    event = _EVENTS[name](fields, call_id, at)
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return event, hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def stored_fields(body: bytes) -> tuple[dict[str, str], float] | None:
    """A stored notification's fields and arrival (None: not a readable notification)."""
    try:
        return _stored(body)
    except BadEvent:
        return None


def statistics_line(body: bytes) -> dict[str, Any] | None:
    """A stored statistics event's line (None: the body is something else)."""
    try:
        return _stored(body, STATISTICS)[0]
    except BadEvent:
        return None


def _confirmed(line: dict[str, Any], at: float) -> tuple[CallEvent, str]:
    call_id = line.get("pbx_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise BadEvent("statistics: no pbx_call_id")
    if line.get("found") is False:
        raise BadEvent("statistics: the call is not in Zadarma's statistics")
    seconds = line.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise BadEvent("statistics: seconds must be a number")
    disposition = str(line.get("disposition", "")).strip().lower()
    event = CallEvent(
        "ended", call_id, at, duration=_seconds(str(seconds)), status=DISPOSITIONS.get(disposition)
    )
    return event, statistics_key(call_id)


def _stored(body: bytes, part: str = "fields") -> tuple[dict[str, Any], float]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadEvent("stored body is not JSON") from exc
    fields = data.get(part) if isinstance(data, dict) else None
    at = data.get("received_at") if isinstance(data, dict) else None
    if not isinstance(fields, dict) or (
        part == "fields" and not all(isinstance(v, str) for v in fields.values())
    ):
        raise BadEvent(f"stored body has no {part}")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at):
        raise BadEvent("stored body has no time")
    if not plausible_time(at):
        raise BadEvent("stored body has an implausible time")
    return fields, float(at)


def _number(value: str | None) -> str | None:
    """Zadarma sends numbers in international format without "+" (`74951234567`)."""
    value = (value or "").strip()
    if not value:
        return None
    if value.isdigit() and len(value) >= 10:
        return phone.try_e164("+" + value) or value
    return value


def _start(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    called = _number(f.get("called_did"))
    if not called:
        raise BadEvent("called_did: required for NOTIFY_START (it decides the routing)")
    return CallEvent("started", call_id, at, caller=_number(f.get("caller_id")), called=called)


def _answer(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    # `destination` is who picked up (an extension or forwarding number), not the number dialled
    return CallEvent("answered", call_id, at, caller=_number(f.get("caller_id")))


def _end(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    return CallEvent(
        "ended",
        call_id,
        at,
        caller=_number(f.get("caller_id")),
        called=_number(f.get("called_did")),
        duration=_seconds(f.get("duration")),
        status=DISPOSITIONS.get(f.get("disposition", "").strip().lower()),
        recording_url=_recording(f) if f.get("is_recorded", "").strip() == "1" else None,
    )


def _out_start(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    """A call out: `destination` is the customer dialled, `caller_id` the line shown."""
    customer = _number(f.get("destination"))
    if not customer:
        raise BadEvent("destination: required for NOTIFY_OUT_START (the number called)")
    return CallEvent("started", call_id, at, caller=_line(f), called=customer, direction="outbound")


def _out_end(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    return CallEvent(
        "ended",
        call_id,
        at,
        caller=_line(f),
        called=_number(f.get("destination")),
        duration=_seconds(f.get("duration")),
        status=DISPOSITIONS.get(f.get("disposition", "").strip().lower()),
        recording_url=_recording(f) if f.get("is_recorded", "").strip() == "1" else None,
        direction="outbound",
    )


def _line(f: dict[str, str]) -> str | None:
    """The number a call out showed: `caller_id`, which is "0" when none is set."""
    shown = f.get("caller_id", "").strip()
    return _number(shown) if shown.strip("0") else None


def _record(f: dict[str, str], call_id: str, at: float) -> CallEvent:
    ref = _recording(f)
    if ref is None:
        raise BadEvent("call_id_with_rec: required for NOTIFY_RECORD")
    return CallEvent("recording", call_id, at, recording_url=ref)


_EVENTS = {
    "NOTIFY_START": _start,
    "NOTIFY_ANSWER": _answer,
    "NOTIFY_END": _end,
    "NOTIFY_OUT_START": _out_start,
    "NOTIFY_OUT_END": _out_end,
    "NOTIFY_RECORD": _record,
}


def _recording(f: dict[str, str]) -> str | None:
    ref = f.get("call_id_with_rec", "").strip()
    return RECORDING_PREFIX + ref if ref else None


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError as exc:
        raise BadEvent("duration: must be a number of seconds") from exc
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SECONDS:
        raise BadEvent(f"duration: must be between 0 and {MAX_SECONDS} seconds")
    return seconds


def reply(body: dict[str, Any], extension: str | None) -> dict[str, Any]:
    """Our answer in Zadarma's terms. To NOTIFY_START: send the call to PBX `extension`
    (which forwards to an external number) with that number rewritten to callpath's
    routing decision; without an extension or a destination, an empty object lets the
    PBX's own scenario run. Other notifications: the call id (Zadarma ignores it)."""
    if body.get("event") != "started":
        return body
    forward_to = body.get("forward_to")
    if not extension or not isinstance(forward_to, str) or not forward_to:
        return {}
    return {
        "redirect": extension,
        "return_timeout": 0,
        "rewrite_forward_number": forward_to.lstrip("+"),
    }


def instructions(url: str, secret: str) -> str:
    """What `callpath integration add --kind zadarma` prints (Novofon: the same steps)."""
    return (
        f"  notification URL: {url}?extension=100\n"
        f"  API secret:       {_shown(secret)}\n"
        "In the Zadarma (or Novofon) personal account:\n"
        "  1. Settings → Integrations and API → API keys: the secret above must be the\n"
        "     API secret key shown there (generate keys if there are none). Given as\n"
        "     KEY:SECRET, callpath also confirms each call's outcome from the call\n"
        "     statistics (the END notification's status and duration are not signed).\n"
        "  2. PBX → an extension (here 100) with call forwarding to an external number\n"
        "     enabled; callpath rewrites that number per call. Put its number in\n"
        "     `?extension=` above (leave it out to keep your own scenario; calls are\n"
        "     still tracked).\n"
        "  3. Settings → Integrations and API → notifications of calls in the PBX:\n"
        "     paste the URL into the notification link (Zadarma checks it with ?zd_echo)\n"
        "     and enable NOTIFY_START, NOTIFY_ANSWER, NOTIFY_END and NOTIFY_RECORD, and\n"
        "     NOTIFY_OUT_START and NOTIFY_OUT_END for your calls out (a missed caller you\n"
        "     call back then counts as called back).\n"
        "See docs/telephony.md."
    )


def _shown(stored: str) -> str:
    key, secret = credentials(stored)
    if key is None:
        return f"{secret[:4]}… (signs notifications; no API key: outcomes not confirmed)"
    return f"key {key[:4]}…, secret {secret[:4]}… (outcomes confirmed from the statistics)"
