"""Asterisk / FreePBX (AMI): what the listener stores and how it reads it back.

The listener (`callpath asterisk listen`) turns AMI events into call events
(`telephony.asterisk.calls`) and stores each as a canonical JSON document:

    {"event": "ended", "call_id": "1767225600.42", "received_at": 1767225661.5,
     "at": 1767225661.5, "caller": "+7916…", "called": "+7495…", "status": "answered",
     "talk": 52.0, "duration": 61.0}

A call out (an office phone calling a customer) has `"direction": "outbound"` on its
`started`, `answered` and `ended`, `caller` the line shown and `called` the customer.

A `recording` event carries the MixMonitor file's path on the PBX as a `file://` URL
(`"recording_url": "file:///var/spool/asterisk/monitor/…/in-….wav"`): a reference only,
the file is not copied.

`call_id` is the call's AMI `Linkedid`. A call has one event of each kind, so the dedup
key covers the kind and the call only: the same events seen again (a reconnect, a
restarted listener) are stored once.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from callpath.domain.calls import DIRECTIONS, STATUSES, CallEvent, plausible_time
from callpath.telephony.asterisk.calls import MAX_RECORDING_URL
from callpath.telephony.base import BadEvent, finite, json_object

KINDS = ("started", "answered", "ended", "recording")
_MAX_SECONDS = 7 * 86_400.0
_LIMITS = {"call_id": 80, "caller": 80, "called": 40}


def canonical(event: CallEvent, received_at: float) -> bytes:
    """The stored form of one call event the listener made."""
    document: dict[str, Any] = {
        "event": event.kind,
        "call_id": event.call_id,
        "received_at": received_at,
        "at": event.at,
        "caller": event.caller,
        "called": event.called,
        "status": event.status,
        "talk": event.talk,
        "duration": event.duration,
        "recording_url": event.recording_url,
        "direction": event.direction,
    }
    clean = {k: v for k, v in document.items() if v is not None}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def parse(body: bytes) -> tuple[CallEvent, str]:
    """A stored document as the call event and its dedup key."""
    data = json_object(body, "stored Asterisk event")
    kind = data.get("event")
    if kind not in KINDS:
        raise BadEvent("event: one of " + ", ".join(KINDS))
    call_id = _text(data, "call_id")
    if call_id is None:
        raise BadEvent("call_id: required")
    _time(data, "received_at")
    status = data.get("status")
    if status is not None and status not in STATUSES:
        raise BadEvent("status: one of " + ", ".join(STATUSES))
    direction = data.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise BadEvent("direction: one of " + ", ".join(DIRECTIONS))
    recording_url = _file_url(data)
    if (kind == "recording") != (recording_url is not None):
        raise BadEvent("recording_url: required on a recording event, and only there")
    event = CallEvent(
        kind=str(kind),
        call_id=call_id,
        at=_time(data, "at"),
        caller=_text(data, "caller"),
        called=_text(data, "called"),
        duration=_seconds(data, "duration"),
        talk=_seconds(data, "talk"),
        status=status,
        recording_url=recording_url,
        direction=direction,
    )
    return event, dedup_key(str(kind), call_id)


def dedup_key(kind: str, call_id: str) -> str:
    return hashlib.sha256(f"asterisk\x00{kind}\x00{call_id}".encode()).hexdigest()


def _text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadEvent(f"{name}: must be a non-empty string")
    value = value.strip()
    if len(value) > _LIMITS[name] or not value.isprintable():
        raise BadEvent(f"{name}: at most {_LIMITS[name]} printable characters")
    return value


def _file_url(data: dict[str, Any]) -> str | None:
    value = data.get("recording_url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("file:///"):
        raise BadEvent("recording_url: a file:/// URL")
    if len(value) > MAX_RECORDING_URL or not value.isprintable() or " " in value:
        raise BadEvent(f"recording_url: at most {MAX_RECORDING_URL} URL characters")
    return value


def _time(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEvent(f"{name}: unix seconds required")
    moment = finite(value)
    if moment is None or not plausible_time(moment):
        raise BadEvent(f"{name}: not a plausible time of a call")
    return moment


def _seconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEvent(f"{name}: seconds")
    seconds = finite(value)
    if seconds is None or not 0 <= seconds <= _MAX_SECONDS:
        raise BadEvent(f"{name}: 0 .. {_MAX_SECONDS:.0f} seconds")
    return seconds


def instructions(url: str, secret: str) -> str:
    """What `callpath integration add --kind asterisk` prints."""
    integration = url.rstrip("/").rsplit("/", 1)[-1]
    return (
        "Asterisk reports calls over AMI to a listener you run next to callpath (nothing\n"
        "is posted to callpath over HTTP, and no webhook secret is used).\n"
        "1. In /etc/asterisk/manager.conf (FreePBX: Settings → Asterisk Manager Users → Add\n"
        "   Manager, read: call, cdr, dialplan; write: none) add a read-only user:\n"
        "     [general]\n"
        "     enabled = yes\n"
        "     port = 5038\n"
        "     bindaddr = 127.0.0.1\n"
        "     timestampevents = yes\n"
        "\n"
        "     [callpath]\n"
        "     secret = A-LONG-RANDOM-SECRET\n"
        "     deny = 0.0.0.0/0.0.0.0\n"
        "     permit = 127.0.0.1/255.255.255.255\n"
        "     read = call,cdr,dialplan\n"
        "     write =\n"
        "   then: asterisk -rx 'manager reload'\n"
        "2. Put that secret in a file only callpath can read (chmod 600), and run:\n"
        f"     callpath asterisk listen --integration {integration} --host 127.0.0.1 \\\n"
        "       --port 5038 --username callpath --secret-file /etc/callpath/ami-secret\n"
        "   (or set CALLPATH_AMI_SECRET instead of --secret-file). Run it as a service;\n"
        "   see docs/telephony.md for a systemd unit."
    )
