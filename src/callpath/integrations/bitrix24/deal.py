"""A Bitrix24 outgoing webhook's deal event, and the deal it names read back.

The event is a form (`application/x-www-form-urlencoded`) with PHP-style keys:
`event=ONCRMDEALUPDATE`, `data[FIELDS][ID]`, `ts`, `auth[application_token]`,
`auth[domain]`, `auth[member_id]`… It carries the deal's id only, so the deal is read
with `crm.deal.get`: `STAGE_SEMANTIC_ID` says won (S), lost (F) or in progress (P),
`OPPORTUNITY` and `CURRENCY_ID` its money, `LEAD_ID` the lead it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

DEAL_EVENTS = ("ONCRMDEALUPDATE", "ONCRMDEALADD")
MAX_FIELDS = 60
_STATUS = {"S": "won", "F": "lost"}


class BadForm(ValueError):
    """Not an outgoing webhook's event (answered 400 with this reason)."""


class BadDeal(ValueError):
    """`crm.deal.get` answered something that is not a deal."""


@dataclass(frozen=True, slots=True)
class DealEvent:
    event: str
    deal_id: str
    token: str
    domain: str | None


@dataclass(frozen=True, slots=True)
class Deal:
    deal_id: str
    title: str | None
    status: str  # won, lost, open
    amount: str
    currency: str | None
    lead_id: str | None
    contact_id: str | None
    closed_at: float | None  # won or lost: when it moved to that stage


def read_event(body: bytes) -> DealEvent:
    try:
        text = body.decode("utf-8")
        form = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise BadForm("the form is not UTF-8") from exc
    except ValueError as exc:  # too many fields
        raise BadForm(f"the form has more than {MAX_FIELDS} fields") from exc
    event = _one(form, "event").upper()
    if not event or len(event) > 64 or not event.replace("_", "").isalnum():
        raise BadForm("event: missing or not an event name")
    token = _one(form, "auth[application_token]")
    if len(token) > 200:
        raise BadForm("auth[application_token]: too long")
    deal_id = _one(form, "data[FIELDS][ID]")
    if event in DEAL_EVENTS and not _is_id(deal_id):
        raise BadForm("data[FIELDS][ID]: missing or not a deal id")
    domain = _one(form, "auth[domain]")[:253] or None
    return DealEvent(event, deal_id, token, domain)


def _one(form: Mapping[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    if len(values) > 1:
        raise BadForm(f"{key}: given more than once")
    return values[0].strip()


def _is_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and 0 < len(text) <= 18


def read_deal(result: Any) -> Deal:
    if not isinstance(result, Mapping):
        raise BadDeal("crm.deal.get answered no deal")
    deal_id = _text(result.get("ID"))
    if deal_id is None or not _is_id(deal_id):
        raise BadDeal("crm.deal.get answered a deal without an id")
    status = _STATUS.get(str(result.get("STAGE_SEMANTIC_ID") or "").upper(), "open")
    moved = _moment(result.get("MOVED_TIME")) or _moment(result.get("CLOSEDATE"))
    return Deal(
        deal_id=deal_id,
        title=(_text(result.get("TITLE")) or "")[:200] or None,
        status=status,
        amount=_text(result.get("OPPORTUNITY")) or "0",
        currency=_text(result.get("CURRENCY_ID")),
        lead_id=_id_or_none(result.get("LEAD_ID")),
        contact_id=_id_or_none(result.get("CONTACT_ID")),
        closed_at=moved if status != "open" else None,
    )


def phone_of(contact: Any) -> str | None:
    """A contact's first phone (`crm.contact.get`'s `PHONE`: [{VALUE, VALUE_TYPE}])."""
    phones = contact.get("PHONE") if isinstance(contact, Mapping) else None
    for item in phones if isinstance(phones, list) else []:
        value = _text(item.get("VALUE")) if isinstance(item, Mapping) else None
        if value:
            return value[:40]
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, str)):
        return str(value).strip() or None
    return None


def _id_or_none(value: Any) -> str | None:
    text = _text(value)
    return text if text and _is_id(text) and text != "0" else None


def _moment(value: Any) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None
