"""amoCRM's webhook form read into lead changes, no I/O.

amoCRM posts `application/x-www-form-urlencoded` with bracketed keys:
`leads[status][0][id]`, `[status_id]`, `[pipeline_id]`, `[old_status_id]`, `[price]`,
`[name]`, `[last_modified]` … (also `leads[add]`, `leads[update]`) and
`account[subdomain]`. A lead's or a linked contact's phone field
(`…[custom_fields][N][code]=PHONE`, `…[values][M][value]`; a contact names its leads in
`linked_leads_id`) is read when it is there. Anything malformed is `BadForm`, with a
reason; a form about nothing but other entities (contacts, tasks) is no leads."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_FIELDS = 5_000
_KEY = re.compile(r"^([A-Za-z_]{1,40})((?:\[[A-Za-z0-9_]{0,40}\]){0,8})$")
_PART = re.compile(r"\[([A-Za-z0-9_]{0,40})\]")
_PRICE = re.compile(r"^\d{1,13}(\.\d{1,2})?$")
EVENTS = ("add", "update", "status")  # later ones win for one lead


class BadForm(ValueError):
    """The body is not amoCRM's form (a reason, safe to answer with)."""


@dataclass(frozen=True, slots=True)
class LeadChange:
    id: int
    status_id: int | None
    pipeline_id: int | None
    price: str | None  # a decimal string in the account's currency; None: not given
    name: str | None
    modified_at: float | None
    phones: tuple[str, ...]
    subdomain: str | None


def parse(body: bytes) -> list[LeadChange]:
    """Every lead the form names, once (its last change in the form)."""
    tree = _tree(body)
    subdomain = _text(_dig(tree, "account", "subdomain"), 100)
    phones = _contact_phones(tree.get("contacts"))
    found: dict[int, LeadChange] = {}
    leads = tree.get("leads")
    if leads is None:
        return []
    if not isinstance(leads, dict):
        raise BadForm("leads: not a list of events")
    for event in EVENTS:
        for index, item in _items(leads.get(event), f"leads[{event}]"):
            change = _lead(item, f"leads[{event}][{index}]", subdomain, phones)
            found[change.id] = change
    return list(found.values())


def _tree(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise BadForm("the body is not UTF-8") from exc
    except ValueError as exc:
        raise BadForm(f"not a form of at most {MAX_FIELDS} fields") from exc
    tree: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise BadForm(f"unexpected field name {key[:60]!r}")
        path = [match.group(1), *_PART.findall(match.group(2))]
        _put(tree, path, value, key)
    return tree


def _put(tree: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node = tree
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BadForm(f"{key[:60]!r} is given both as a value and as a list")
        node = child
    if isinstance(node.get(path[-1]), dict):
        raise BadForm(f"{key[:60]!r} is given both as a value and as a list")
    node[path[-1]] = value


def _items(found: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    if found is None:
        return []
    if not isinstance(found, dict) or not all(isinstance(v, dict) for v in found.values()):
        raise BadForm(f"{where}: not a list of leads")
    return sorted(found.items(), key=lambda kv: (len(kv[0]), kv[0]))


def _lead(
    item: dict[str, Any], where: str, subdomain: str | None, phones: dict[int, list[str]]
) -> LeadChange:
    lead_id = _number(item.get("id"), f"{where}[id]")
    if lead_id is None:
        raise BadForm(f"{where}[id]: missing")
    price = item.get("price")
    if isinstance(price, str) and price.strip():
        if not _PRICE.match(price.strip()):
            raise BadForm(f"{where}[price]: not an amount")
        price = price.strip()
    else:
        price = None
    modified = _number(item.get("last_modified"), f"{where}[last_modified]")
    own = _phones(item.get("custom_fields"))
    return LeadChange(
        id=lead_id,
        status_id=_number(item.get("status_id"), f"{where}[status_id]"),
        pipeline_id=_number(item.get("pipeline_id"), f"{where}[pipeline_id]"),
        price=price,
        name=_text(item.get("name"), 200),
        modified_at=float(modified) if modified else None,
        phones=tuple(dict.fromkeys([*own, *phones.get(lead_id, [])])),
        subdomain=subdomain,
    )


def _contact_phones(contacts: Any) -> dict[int, list[str]]:
    """Lead id → phones of the contacts in the form that name it."""
    found: dict[int, list[str]] = {}
    if not isinstance(contacts, dict):
        return found
    for event in contacts.values():
        if not isinstance(event, dict):
            continue
        for contact in event.values():
            if not isinstance(contact, dict):
                continue
            numbers = _phones(contact.get("custom_fields"))
            linked = contact.get("linked_leads_id")
            ids = linked.values() if isinstance(linked, dict) else [linked]
            for lead in ids:
                if isinstance(lead, str) and lead.isdigit() and len(lead) < 19:
                    found.setdefault(int(lead), []).extend(numbers)
    return found


def _phones(fields: Any) -> list[str]:
    if not isinstance(fields, dict):
        return []
    numbers = []
    for field in fields.values():
        if not isinstance(field, dict) or str(field.get("code", "")).upper() != "PHONE":
            continue
        values = field.get("values")
        for value in values.values() if isinstance(values, dict) else []:
            text = value.get("value") if isinstance(value, dict) else value
            if isinstance(text, str) and 3 <= len(text.strip()) <= 40:
                numbers.append(text.strip())
    return numbers


def _number(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise BadForm(f"{where}: not a number")
    return int(value)


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def _dig(tree: dict[str, Any], *path: str) -> Any:
    node: Any = tree
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node
