"""amoCRM's API v4 as requests and answers, no I/O: the contact search by phone, the
leads' statuses, a lead with its contact (`/api/v4/leads/complex`) and a note on a lead.

A lead carries the visit's UTM tags and click ids in amoCRM's built-in tracking fields
(by their codes: UTM_SOURCE … FBCLID, REFERRER), or in the fields whose ids the user
gave (`config["fields"]`: a name of `FIELDS` → a field id); the landing page goes only to
a field given by id (amoCRM has none for it) and to the note."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from callpath.domain import phone
from callpath.integrations.http import OutRequest

WON, LOST = 142, 143  # amoCRM's closed stages, the same in every pipeline
# Our name → amoCRM's built-in tracking field code (None: only by a field id given).
FIELDS: dict[str, str | None] = {
    "utm_source": "UTM_SOURCE",
    "utm_medium": "UTM_MEDIUM",
    "utm_campaign": "UTM_CAMPAIGN",
    "utm_term": "UTM_TERM",
    "utm_content": "UTM_CONTENT",
    "gclid": "GCLID",
    "yclid": "YCLID",
    "fbclid": "FBCLID",
    "referrer": "REFERRER",
    "landing": None,
}
VALUE_MAX = 250  # characters of a text field's value


class Unreadable(ValueError):
    """An answer that is not what amoCRM documents."""


def _request(
    destination: Mapping[str, Any], method: str, path: str, body: object = None
) -> OutRequest:
    headers = {
        "Authorization": f"Bearer {destination['config'].get('token', '')}",
        "Accept": "application/json",
    }
    raw = b""
    if body is not None:
        headers["Content-Type"] = "application/json"
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    url = str(destination["url"]).rstrip("/") + path
    return OutRequest(method, url, headers, raw, bool(destination["allow_private"]))


# ------------------------------------------------------------------ the caller's open lead


def search_digits(e164: str) -> str:
    """What the contact search is asked: the national number's digits (a contact's phone
    is typed in any form: "+7 916 …", "8 (916) …")."""
    try:
        return phone.national_digits(e164)
    except Exception:  # not a number phonenumbers can read: its digits
        return "".join(c for c in e164 if c.isdigit())


def contacts_search(destination: Mapping[str, Any], e164: str) -> OutRequest:
    query = urlencode({"query": search_digits(e164), "with": "leads", "limit": 50})
    return _request(destination, "GET", f"/api/v4/contacts?{query}")


def leads_of_contacts(body: bytes, e164: str) -> list[int]:
    """The lead ids of the contacts found whose phone is the caller's (the search also
    matches other fields), newest contact first. An empty body (204) is none."""
    if not body.strip():
        return []
    contacts = _embedded(_json(body), "contacts")
    wanted = search_digits(e164)
    found: list[int] = []
    for contact in sorted(contacts, key=lambda c: -_int(c.get("id"))):
        if not _has_phone(contact, wanted):
            continue
        leads = _embedded(contact, "leads")
        found.extend(_int(lead.get("id")) for lead in leads if _int(lead.get("id")) > 0)
    return list(dict.fromkeys(found))


def _has_phone(contact: Mapping[str, Any], wanted: str) -> bool:
    if not wanted:
        return False
    for field in contact.get("custom_fields_values") or []:
        if not isinstance(field, dict) or field.get("field_code") != "PHONE":
            continue
        for value in field.get("values") or []:
            digits = "".join(c for c in str((value or {}).get("value", "")) if c.isdigit())
            if digits.endswith(wanted):
                return True
    return False


def leads_by_id(destination: Mapping[str, Any], ids: Iterable[int]) -> OutRequest:
    query = urlencode([("filter[id][]", str(i)) for i in list(ids)[:50]] + [("limit", "50")])
    return _request(destination, "GET", f"/api/v4/leads?{query}")


def open_lead(body: bytes) -> int | None:
    """The most recently updated lead that is neither won nor lost (an empty body: none)."""
    if not body.strip():
        return None
    leads = [
        lead
        for lead in _embedded(_json(body), "leads")
        if _int(lead.get("id")) > 0 and _int(lead.get("status_id")) not in (WON, LOST)
    ]
    if not leads:
        return None
    best = max(leads, key=lambda lead: (_int(lead.get("updated_at")), _int(lead.get("id"))))
    return _int(best.get("id"))


# ------------------------------------------------------------------ a new lead


def complex_lead(destination: Mapping[str, Any], payload: Mapping[str, Any]) -> OutRequest:
    """The call's lead with its contact (the caller's phone), in the pipeline given."""
    config = destination["config"]
    number = caller(payload)
    lead: dict[str, Any] = {"name": lead_name(number)}
    if config.get("pipeline_id"):
        lead["pipeline_id"] = int(config["pipeline_id"])
    fields = tracking_fields(payload, config.get("fields") or {})
    if fields:
        lead["custom_fields_values"] = fields
    if number:
        lead["_embedded"] = {
            "contacts": [
                {
                    "name": phone_text(number),
                    "custom_fields_values": [
                        {
                            "field_code": "PHONE",
                            "values": [{"value": number, "enum_code": "WORK"}],
                        }
                    ],
                }
            ]
        }
    return _request(destination, "POST", "/api/v4/leads/complex", [lead])


def lead_name(caller: str | None) -> str:
    return f"Call from {phone_text(caller)}" if caller else "Call from a hidden number"


def phone_text(e164: str) -> str:
    try:
        return phone.display(e164)
    except Exception:
        return e164


def tracking_fields(payload: Mapping[str, Any], ids: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The visit's tags as custom field values: by the id given for a name, else by the
    built-in field's code; nothing for a tag the visit did not carry."""
    values = visit_values(payload)
    fields: list[dict[str, Any]] = []
    for name, code in FIELDS.items():
        value = values.get(name)
        if not value:
            continue
        item: dict[str, Any] = {"values": [{"value": value[:VALUE_MAX]}]}
        if ids.get(name):
            item["field_id"] = int(ids[name])
        elif code is not None:
            item["field_code"] = code
        else:
            continue
        fields.append(item)
    return fields


def visit_values(payload: Mapping[str, Any]) -> dict[str, str]:
    """utm_*, click ids, referrer and landing page of the call's visit (as the URL had
    them; none for a call matched to no visit)."""
    session = (payload.get("attribution") or {}).get("session") or {}
    found: dict[str, str] = {}
    for key, value in (session.get("utm") or {}).items():
        found[f"utm_{key}"] = str(value)
    for key, value in (session.get("click_ids") or {}).items():
        found[str(key)] = str(value)
    if session.get("referrer"):
        found["referrer"] = str(session["referrer"])
    if session.get("landing_url"):
        found["landing"] = str(session["landing_url"])
    return {k: v for k, v in found.items() if k in FIELDS and v}


def created(body: bytes) -> tuple[int, int | None]:
    """(lead id, contact id) from the complex answer: a list of what was made."""
    made = _json(body)
    if not isinstance(made, list) or not made or not isinstance(made[0], dict):
        raise Unreadable("the answer lists no lead")
    lead = _int(made[0].get("id"))
    if lead <= 0:
        raise Unreadable("the answer has no lead id")
    contact = _int(made[0].get("contact_id"))
    return lead, contact if contact > 0 else None


# ------------------------------------------------------------------ notes


def note(destination: Mapping[str, Any], lead_id: int, text: str) -> OutRequest:
    body = [{"note_type": "common", "params": {"text": text}}]
    return _request(destination, "POST", f"/api/v4/leads/{lead_id}/notes", body)


def note_id(body: bytes) -> int | None:
    notes = _embedded(_json(body), "notes")
    found = _int(notes[0].get("id")) if notes else 0
    return found if found > 0 else None


def note_text(payload: Mapping[str, Any]) -> str:
    """The call in a few lines, for the manager reading the lead."""
    call = payload.get("call") or {}
    lead = payload.get("lead") or {}
    attribution = payload.get("attribution") or {}
    channel = attribution.get("channel") or {}
    number = caller(payload)
    lines = [f"Call from {phone_text(number) if number else 'a hidden number'}"]
    if call.get("tracking_number"):
        lines.append(f"to {phone_text(str(call['tracking_number']))}")
    if call.get("started_at"):
        lines.append(f"at {call['started_at']} UTC")
    if lead.get("missed"):
        lines.append("missed: call back")
    elif call.get("talk"):
        lines.append(f"talk {int(call['talk'])} s")
    if channel.get("source"):
        parts = [channel.get(k) for k in ("source", "medium", "campaign", "keyword")]
        lines.append("channel: " + " / ".join(str(p) for p in parts if p))
    values = visit_values(payload)
    if values.get("landing"):
        lines.append(f"landing page: {values['landing'][:500]}")
    return "\n".join(lines)


def caller(payload: Mapping[str, Any]) -> str | None:
    lead = payload.get("lead") or {}
    call = payload.get("call") or {}
    found = lead.get("caller") or call.get("caller")
    return str(found) if found and str(found).startswith("+") else None


# ------------------------------------------------------------------ reading answers


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unreadable("the answer is not JSON") from exc


def _embedded(found: Any, name: str) -> list[dict[str, Any]]:
    if not isinstance(found, dict):
        raise Unreadable("the answer is not an object")
    embedded = found.get("_embedded")
    items = (embedded.get(name) if isinstance(embedded, dict) else None) or []
    if not isinstance(items, list):
        raise Unreadable(f"_embedded.{name} is not a list")
    return [i for i in items if isinstance(i, dict)]


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return 0
