"""Kamailio SIP edge: shared-secret checks and the events kamailio reports.

Kamailio sends the route query's fields and small JSON reports; what is stored is a
canonical JSON object (`started_body`, `event_body`) that `parse` reads again when a
call is folded. Dedup keys depend only on the SIP Call-ID and the kind of report, so a
retransmitted INVITE, 200 OK or BYE is stored once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from callpath.domain.calls import CallEvent, plausible_time
from callpath.telephony.base import BadEvent, Unauthorized, finite, json_object

AUTH_HEADER = "X-Callpath-Secret"
REPORTS = ("answered", "ended", "failed")  # what kamailio posts to /hooks/sip/event
_KINDS = ("started", *REPORTS)
_BUSY = frozenset({486, 600, 603})
_NOT_ANSWERED = frozenset({408, 480, 487})
_LIMITS = {"call_id": 200, "caller": 64, "called": 64}


def verify(secret: str | None, given: str | None) -> None:
    """Raise `Unauthorized` unless `given` is the integration's secret (fail closed)."""
    if not secret:
        raise Unauthorized("integration has no secret; refusing")
    if not given:
        raise Unauthorized(f"{AUTH_HEADER} is required")
    if not hmac.compare_digest(secret.encode("utf-8"), given.strip().encode("utf-8", "replace")):
        raise Unauthorized(f"bad {AUTH_HEADER}")


def status_for(code: int) -> str:
    """A negative final SIP reply as a call status."""
    if code in _BUSY:
        return "busy"
    if code in _NOT_ANSWERED:
        return "missed"
    return "failed"


def started_body(call_id: str, caller: str | None, called: str, now: float) -> bytes:
    """The stored form of a route query (an INVITE reaching the edge)."""
    fields: dict[str, Any] = {
        "event": "started",
        "call_id": _text("call_id", call_id),
        "caller": _text("caller", caller),
        "called": _text("called", called),
        "at": now,
    }
    if not fields["call_id"] or not fields["called"]:
        raise BadEvent("call_id and to: required")
    return _canonical(fields)


def event_body(raw: bytes, now: float) -> bytes:
    """Check a report kamailio posted and return its stored form (`at` defaults to now)."""
    data = json_object(raw)
    event = data.get("event")
    if event not in REPORTS:
        raise BadEvent("event: one of " + ", ".join(REPORTS))
    fields: dict[str, Any] = {
        "event": event,
        "call_id": _text("call_id", data.get("call_id")),
        "at": _at(data.get("at"), now),
    }
    if not fields["call_id"]:
        raise BadEvent("call_id: required")
    if event == "failed":
        fields["code"] = _code(data.get("code"))
    return _canonical(fields)


def parse(body: bytes) -> tuple[CallEvent, str]:
    """A stored body as the call event and its dedup key."""
    data = json_object(body)
    kind, call_id = data.get("event"), data.get("call_id")
    if kind not in _KINDS or not isinstance(call_id, str) or not call_id:
        raise BadEvent("not a stored SIP edge event")
    event = CallEvent(
        kind="ended" if kind == "failed" else str(kind),
        call_id=call_id,
        at=_at(data.get("at"), None),
        caller=data.get("caller"),
        called=data.get("called"),
        talk=0.0 if kind == "failed" else None,
        status=status_for(_code(data.get("code"))) if kind == "failed" else None,
    )
    return event, dedup_key(str(kind), call_id)


def dedup_key(kind: str, call_id: str) -> str:
    return hashlib.sha256(f"sip\x00{kind}\x00{call_id}".encode()).hexdigest()


def _canonical(fields: dict[str, Any]) -> bytes:
    clean = {k: v for k, v in fields.items() if v is not None}
    return json.dumps(clean, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _text(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{name}: must be a string")
    value = value.strip()
    if len(value) > _LIMITS[name] or not value.isprintable():
        raise BadEvent(f"{name}: at most {_LIMITS[name]} printable characters")
    return value or None


def _at(value: object, default: float | None) -> float:
    if value is None and default is not None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadEvent("at: unix seconds")
    moment = finite(value)
    if moment is None or not plausible_time(moment):
        raise BadEvent("at: not a plausible time of a call")
    return moment


def _code(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 300 <= value <= 699:
        raise BadEvent("code: the SIP final reply code (300..699)")
    return value


def instructions(url: str, secret: str) -> str:
    """What `callpath integration add --kind sip` prints."""
    integration = url.rstrip("/").rsplit("/", 1)[-1]
    base = url.rsplit("/hooks/", 1)[0]
    return (
        f"  secret: {secret}\n"
        "Kamailio asks GET /hooks/sip/route per INVITE and reports to POST /hooks/sip/event,\n"
        f"sending the secret in {AUTH_HEADER}. Print its configuration with:\n"
        f"  callpath sip config --site SITE_KEY --integration {integration} "
        f"--callpath-url {base} --pbx PBX_HOST:PORT\n"
        "See docs/telephony.md (Kamailio SIP edge)."
    )
