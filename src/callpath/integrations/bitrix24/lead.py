"""What a call's lead says in Bitrix24, made from a `lead.created` event's payload (the
lead, its call, the call's visit and match: `services.outbox.lead_payload`).

`crm.lead.add` gets a title, the caller's phone, the source (a call), the visit's UTM
tags in Bitrix24's own UTM_* fields (its end-to-end analytics reads them), and a comment
with what the fields cannot hold: the landing page, the click ids, how the call was
matched. `ORIGINATOR_ID`/`ORIGIN_ID` name callpath and the call, as Bitrix24 asks of
records from another system. The call card is a timeline comment on the lead: an
incoming webhook may not register calls in Bitrix24's telephony (that needs a telephony
application), so the call's details and its recording link are written there instead."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from callpath.domain.phone import display, try_e164

FIELD_MAX = 255
COMMENT_MAX = 4_000
UTM = ("source", "medium", "campaign", "content", "term")
_VERDICTS = (
    ("first_time", "first-time caller"),
    ("target", "target call"),
    ("missed", "missed"),
    ("abandoned", "abandoned"),
    ("lost", "lost"),
    ("spam", "spam"),
)


def call_id(payload: Mapping[str, Any]) -> str | None:
    lead = payload.get("lead") or {}
    found = lead.get("call_id") or (payload.get("call") or {}).get("id")
    return str(found) if found else None


def lead_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.lead.add`'s `fields`."""
    call = payload.get("call") or {}
    lead = payload.get("lead") or {}
    caller = call.get("caller") or lead.get("caller")
    session = _session(payload)
    fields: dict[str, Any] = {
        "TITLE": f"Call from {_phone(caller)}" if caller else "Call from a hidden number",
        "SOURCE_ID": "CALL",
        "SOURCE_DESCRIPTION": _cut(f"callpath: {_channel(payload) or 'no channel'}"),
        "ORIGINATOR_ID": "callpath",
        "ORIGIN_ID": _cut(str(call_id(payload) or "")),
        "COMMENTS": _comments(payload),
    }
    if caller:
        fields["PHONE"] = [{"VALUE": str(caller), "VALUE_TYPE": "WORK"}]
    utm = (session or {}).get("utm") or {}
    for key in UTM:
        if utm.get(key):
            fields[f"UTM_{key.upper()}"] = _cut(str(utm[key]))
    return fields


def lead_request(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"fields": lead_fields(payload), "params": {"REGISTER_SONET_EVENT": "Y"}}


def card_request(lead_id: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.timeline.comment.add` on the lead: the call card."""
    return {"fields": {"ENTITY_ID": int(lead_id), "ENTITY_TYPE": "lead", "COMMENT": card(payload)}}


def card(payload: Mapping[str, Any]) -> str:
    call = payload.get("call") or {}
    lead = payload.get("lead") or {}
    lines = [
        f"Call {call.get('status') or call.get('state') or ''}".rstrip()
        + f", {_when(call.get('started_at'))}",
        f"From {_phone(call.get('caller'))} to {_phone(call.get('tracking_number'))}"
        + (f", forwarded to {_phone(call['forward_to'])}" if call.get("forward_to") else ""),
        "Duration {} s, talk {} s, wait {} s".format(
            *(_seconds(call.get(k)) for k in ("duration", "talk", "wait"))
        ),
    ]
    verdict = [text for key, text in _VERDICTS if lead.get(key)]
    if verdict:
        lines.append("Counted as: " + ", ".join(verdict))
    lines.extend(_match_lines(payload))
    if call.get("recording_url"):
        lines.append(f"Recording: {call['recording_url']}")
    lines.append(f"callpath call {call.get('id') or lead.get('call_id')}")
    return "\n".join(lines)[:COMMENT_MAX]


def _comments(payload: Mapping[str, Any]) -> str:
    call = payload.get("call") or {}
    lines = [
        f"Call tracked by callpath ({call.get('id')}), {_when(call.get('started_at'))}",
        f"Number dialled: {_phone(call.get('tracking_number'))}",
    ]
    lines.extend(_match_lines(payload))
    return "\n".join(lines)[:COMMENT_MAX]


def _match_lines(payload: Mapping[str, Any]) -> list[str]:
    attribution = payload.get("attribution") or {}
    method = attribution.get("method")
    if not method or method in ("none", "outbound"):
        return ["Not matched to a visit"]
    lines = [f"Channel: {_channel(payload) or '-'}"]
    confidence = attribution.get("confidence")
    matched = f"Matched by {method}"
    if isinstance(confidence, (int, float)):
        matched += f", confidence {round(float(confidence) * 100)}%"
    if attribution.get("repeat"):
        matched += f"; a repeat call (first: {attribution.get('first_call_id')})"
    lines.append(matched)
    session = _session(payload)
    if session:
        if session.get("landing_url"):
            lines.append(f"Landing page: {session['landing_url']}")
        if session.get("referrer"):
            lines.append(f"Referrer: {session['referrer']}")
        clicks = session.get("click_ids") or {}
        if clicks:
            lines.append("Click ids: " + ", ".join(f"{k}={v}" for k, v in sorted(clicks.items())))
        if session.get("visit_code"):
            lines.append(f"Visit code: {session['visit_code']}")
    return lines


def _session(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    found = (payload.get("attribution") or {}).get("session")
    return found if isinstance(found, Mapping) else None


def _channel(payload: Mapping[str, Any]) -> str:
    channel = (payload.get("attribution") or {}).get("channel") or {}
    parts = [channel.get(k) for k in ("source", "medium", "campaign", "keyword")]
    return " / ".join(str(p) for p in parts if p)


def _phone(number: Any) -> str:
    if not number:
        return "a hidden number"
    text = str(number)
    e164 = try_e164(text) if text.startswith("+") else None
    return display(e164) if e164 else text


def _when(at: Any) -> str:
    return str(at).replace("T", " ").replace("Z", " UTC") if at else "time unknown"


def _seconds(value: Any) -> str:
    return str(round(float(value))) if isinstance(value, (int, float)) else "-"


def _cut(text: str) -> str:
    return text[:FIELD_MAX]
