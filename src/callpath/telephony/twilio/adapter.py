"""Twilio Programmable Voice (see docs/telephony.md).

Four webhooks per integration, told apart by their URL: `voice` (a call to a tracking
number: answered with TwiML <Dial>), `dial` (the Dial action: how the forwarded leg
ended), `status` (the dialled leg answered / completed) and `recording`. Twilio's form
parameters do not say which callback they are and carry no time for most callbacks, so
what is stored is a canonical JSON document:

    {"callback": "dial", "received_at": 1767225600.25, "params": {"CallSid": "CA…", …}}

(a repeated parameter is a list of its values). `parse` reads only that document, so
folding can read it again at any time; the dedup key covers the callback and its
parameters, not the time it arrived, so a redelivery is recognised.

A call out (`call_out`: the business calling a customer through the REST API, whose
status callback points here) is a call of its own, `From` its line and `To` the customer;
it is never routed. The leg our own <Dial> makes (`outbound-dial`, with `ParentCallSid`)
is not one: it belongs to the caller's call.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from callpath.domain.calls import CallEvent, plausible_time
from callpath.telephony.base import BadEvent, Ignored, finite
from callpath.telephony.twilio.signature import Params

CALLBACKS = ("voice", "dial", "status", "recording")
MAX_SECONDS = 7 * 86_400
MAX_FIELDS = 500

# DialCallStatus (Dial action) and CallStatus (dialled leg) → call status.
_ENDED = {
    "completed": "answered",
    "answered": "answered",
    "busy": "busy",
    "no-answer": "missed",
    "canceled": "missed",
    "failed": "failed",
}
_ANSWERED = ("in-progress", "answered")
_RINGING = ("queued", "initiated", "ringing")  # a call out's progress before an answer
_CALL_OUT = ("outbound-api", "outbound-dial")  # Direction of a call Twilio placed


def form(body: bytes) -> Params:
    """The form parameters of a request body, every value of a repeated name kept;
    `BadEvent` for more than `MAX_FIELDS` of them (Twilio sends a few dozen)."""
    params: Params = {}
    text = body.decode("utf-8", errors="replace")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError as exc:  # "Max number of fields exceeded"
        raise BadEvent(f"form body has more than {MAX_FIELDS} fields") from exc
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def canonical(callback: str, params: Params, received_at: float) -> bytes:
    """What is stored for one delivery (and read back by `parse`)."""
    if callback not in CALLBACKS:
        raise ValueError(f"unknown Twilio callback {callback!r}")
    flat = {name: values[0] if len(values) == 1 else values for name, values in params.items()}
    document = {"callback": callback, "received_at": received_at, "params": flat}
    return _dumps(document).encode("utf-8")


def parse(body: bytes) -> tuple[CallEvent, str]:
    """The event a stored delivery stands for, and its dedup key."""
    document = _document(body)
    callback, params = document["callback"], document["params"]
    at = _received_at(document.get("received_at"))
    if callback == "voice":
        event = _voice(params, at)
    elif callback == "dial":
        event = _dial(params, at)
    elif callback == "status":
        event = _status(params, at)
    else:
        event = _recording(params, at)
    identity = _dumps({"callback": callback, "params": params})
    return event, hashlib.sha256(identity.encode("utf-8")).hexdigest()


def call_out(params: Mapping[str, Any]) -> bool:
    """Whether a request is of a call the business placed: `Direction` outbound-api (the
    REST API) or outbound-dial, and no `ParentCallSid`. A leg with a parent is a <Dial>'s
    leg, as our forwarding makes for every call in: it belongs to its parent call."""
    direction = _text(params, "Direction", 40)
    return direction in _CALL_OUT and _text(params, "ParentCallSid", 200) is None


def _voice(params: Mapping[str, Any], at: float) -> CallEvent:
    if call_out(params):
        return _out(params, "started", at)
    called = _phone(params, "To")
    if not called:
        raise BadEvent("To: required (the tracking number decides the routing)")
    return CallEvent(
        "started", _call_id(params, "CallSid"), at, caller=_phone(params, "From"), called=called
    )


def _dial(params: Mapping[str, Any], at: float) -> CallEvent:
    """The Dial action: Twilio asks what next once the forwarded leg is over."""
    raw = _text(params, "DialCallStatus", 40) or ""
    status = _ENDED.get(raw)
    if status is None:
        raise Ignored(f"DialCallStatus {raw[:40]!r} is not one callpath uses")
    return CallEvent(
        "ended",
        _call_id(params, "CallSid"),
        at,
        caller=_phone(params, "From"),
        called=_phone(params, "To"),
        talk=_seconds(params, "DialCallDuration") if status == "answered" else None,
        status=status,
        recording_url=_url(params, "RecordingUrl"),
    )


def _status(params: Mapping[str, Any], at: float) -> CallEvent:
    """The dialled leg's progress; it belongs to the caller's call (its parent). A call
    out's own progress is that call's."""
    if call_out(params):
        return _out_status(params, at)
    parent = _text(params, "ParentCallSid", 200)
    call_id = parent or _call_id(params, "CallSid")
    raw = _text(params, "CallStatus", 40) or ""
    if raw in _ANSWERED:
        return CallEvent("answered", call_id, at)
    status = _ENDED.get(raw)
    if status is None:
        raise Ignored(f"CallStatus {raw[:40]!r} is not one callpath uses")
    talk = _seconds(params, "CallDuration") if status == "answered" else None
    return CallEvent("ended", call_id, at, talk=talk, status=status)


def _out_status(params: Mapping[str, Any], at: float) -> CallEvent:
    raw = _text(params, "CallStatus", 40) or ""
    if raw in _RINGING:
        return _out(params, "started", at)
    if raw in _ANSWERED:
        return _out(params, "answered", at)
    status = _ENDED.get(raw)
    if status is None:
        raise Ignored(f"CallStatus {raw[:40]!r} is not one callpath uses")
    talk = _seconds(params, "CallDuration") if status == "answered" else None
    return _out(params, "ended", at, talk=talk, status=status)


def _out(
    params: Mapping[str, Any],
    kind: str,
    at: float,
    talk: float | None = None,
    status: str | None = None,
) -> CallEvent:
    """An event of a call out: `From` the business's line, `To` the customer."""
    customer = _phone(params, "To")
    if not customer:
        raise BadEvent("To: required on a call out (the customer called)")
    return CallEvent(
        kind,
        _call_id(params, "CallSid"),
        at,
        caller=_phone(params, "From"),
        called=customer,
        talk=talk,
        status=status,
        direction="outbound",
    )


def _recording(params: Mapping[str, Any], at: float) -> CallEvent:
    """A finished recording of the call (its CallSid is always the caller's leg)."""
    state = _text(params, "RecordingStatus", 40)
    if state not in (None, "completed"):
        raise Ignored(f"RecordingStatus {state!r}: no recording to keep")
    url = _url(params, "RecordingUrl")
    if url is None:
        raise BadEvent("RecordingUrl: required, an http(s) URL")
    return CallEvent("recording", _call_id(params, "CallSid"), at, recording_url=url)


def _document(body: bytes) -> dict[str, Any]:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadEvent("stored Twilio delivery is not JSON") from exc
    if not isinstance(document, dict) or document.get("callback") not in CALLBACKS:
        raise BadEvent("stored Twilio delivery has no known callback")
    if not isinstance(document.get("params"), dict):
        raise BadEvent("stored Twilio delivery has no parameters")
    return document


def _received_at(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEvent("received_at: required")
    moment = finite(value)
    if moment is None or not plausible_time(moment):
        raise BadEvent("received_at: not a plausible time of a call")
    return moment


def _text(params: Mapping[str, Any], name: str, limit: int) -> str | None:
    """The first value of `name`, or None when absent, empty or implausible."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def _call_id(params: Mapping[str, Any], name: str) -> str:
    value = _text(params, name, 200)
    if value is None:
        raise BadEvent(f"{name}: required")
    return value


def _phone(params: Mapping[str, Any], name: str) -> str | None:
    return _text(params, name, 40)  # "anonymous" or a SIP URI too long stays unknown


def _seconds(params: Mapping[str, Any], name: str) -> float | None:
    raw = _text(params, name, 20)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or not 0 <= value <= MAX_SECONDS:
        return None
    return value


def _url(params: Mapping[str, Any], name: str) -> str | None:
    value = _text(params, name, 2000)
    if value is None or not value.lower().startswith(("https://", "http://")):
        return None
    return value


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def instructions(url: str, secret: str) -> str:
    """What `callpath integration add --kind twilio` prints."""
    masked = secret[:4] + "…" if len(secret) > 8 else "…"
    return (
        f"  url:    {url}\n"
        f"  secret: your Twilio auth token ({masked}), used to check X-Twilio-Signature\n"
        "In the Twilio console: Phone Numbers → Manage → Active numbers → each tracking\n"
        'number → Voice Configuration → "A call comes in": Webhook, the url above, HTTP POST\n'
        "→ Save. To record answered calls use instead:\n"
        f"  {url}?record=1\n"
        "Twilio signs the URL it calls: behind a proxy, set CALLPATH_PUBLIC_URL to this\n"
        "server's public base URL. See docs/telephony.md."
    )
