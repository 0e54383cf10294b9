"""Deals: a sale entered from a CRM (or by hand), idempotent by the CRM's own id, and
linked to the visit it came from.

A deal is linked by the strongest thing given, and only by that one (a weaker one is
never tried in its place, so a wrong id is an error, not a silently different visit):
the call it came from (`call_id`), the visit code the customer read out (`visit_code`,
with the site), the caller's phone (their latest call; a phone that never called leaves
the deal linked to the site only), or the visitor id a web form carried (`visitor_id`,
with the site). The rules of money and status are `domain/deals.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from callpath.domain import deals, phone, visit_code
from callpath.domain.calls import is_call_key
from callpath.domain.visit_code import CodeHolder
from callpath.services import outbox, site_input
from callpath.services.site_input import NotFound, SetupError
from callpath.storage import deal_repo, session_repo, site_repo

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class DealInput:
    amount: object  # a JSON number or a decimal string ("1234.50")
    status: str = "open"
    currency: str | None = None  # the site's when not given
    external_id: str | None = None  # the CRM's id: the same id again updates the deal
    title: str | None = None
    closed_at: float | None = None  # won or lost: when (now when not given)
    site_id: int | None = None  # needed unless the call or the caller's call names it
    call_id: str | None = None
    visit_code: str | None = None
    caller: str | None = None
    visitor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    deal: Row
    created: bool


@dataclass(frozen=True, slots=True)
class _Link:
    kind: str
    site_id: int | None
    call_id: str | None = None
    session_id: str | None = None
    visitor_id: str | None = None


def record(conn: Connection, account_id: int, data: DealInput, now: float) -> Recorded:
    """Create the deal, or update the one with the same external id. Raises `SetupError`
    (400) naming the field at fault, `NotFound` (404) for a call or site not of the
    account."""
    try:
        amount = deals.cents(data.amount)
        status = deals.status(data.status)
        closed = deals.closed_at(status, data.closed_at, now)
    except deals.DealError as exc:
        raise SetupError(str(exc)) from exc
    link = _link(conn, account_id, data, closed or now)
    site = _site(conn, account_id, link.site_id)
    values: Row = {
        "site_id": site["id"],
        "title": (data.title or "").strip()[:200] or None,
        "amount_cents": amount,
        "currency": site_input.currency(data.currency) if data.currency else site["currency"],
        "status": status,
        "closed_at": closed,
        "link": link.kind,
        "call_id": link.call_id,
        "session_id": link.session_id,
        "visitor_id": link.visitor_id,
        "caller": _caller(data.caller, site["region"]) if data.caller else None,
        "visit_code": visit_code.normalize(data.visit_code) if data.visit_code else None,
        "updated_at": now,
    }
    external = (data.external_id or "").strip() or None
    if external is None:
        return _insert(conn, account_id, None, values, now)
    found = deal_repo.by_external_id(conn, account_id, external, lock=True)
    if found is not None:
        return _update(conn, account_id, found["id"], values)
    try:
        with conn.begin_nested():  # another request may create this deal meanwhile
            return _insert(conn, account_id, external, values, now)
    except IntegrityError:
        found = deal_repo.by_external_id(conn, account_id, external, lock=True)
        if found is None:
            raise
        return _update(conn, account_id, found["id"], values)


def _insert(
    conn: Connection, account_id: int, external: str | None, values: Row, now: float
) -> Recorded:
    row = {**values, "account_id": account_id, "external_id": external, "created_at": now}
    deal_id = deal_repo.insert_deal(conn, row)
    saved = _found(conn, account_id, deal_id)
    outbox.deal_saved(conn, None, saved, now)
    return Recorded(saved, created=True)


def _update(conn: Connection, account_id: int, deal_id: int, values: Row) -> Recorded:
    before = _found(conn, account_id, deal_id)
    deal_repo.update_deal(conn, account_id, deal_id, values)
    saved = _found(conn, account_id, deal_id)
    outbox.deal_saved(conn, before, saved, float(values["updated_at"]))
    return Recorded(saved, created=False)


def _found(conn: Connection, account_id: int, deal_id: int) -> Row:
    row = deal_repo.by_id(conn, account_id, deal_id)
    assert row is not None  # written in this transaction
    return row


def _site(conn: Connection, account_id: int, site_id: int | None) -> Row:
    if site_id is None:
        raise SetupError("site: needed when no call_id or caller's call names the site")
    site = site_repo.site_row(conn, site_id=site_id)
    if site is None or site["account_id"] != account_id:
        raise NotFound(f"no site {site_id} in this account")
    return site


def _link(conn: Connection, account_id: int, data: DealInput, at: float) -> _Link:
    if data.call_id:
        return _by_call(conn, account_id, data)
    if data.visit_code:
        return _by_code(conn, account_id, data, at)
    if data.caller:
        found = _by_caller(conn, account_id, data, at)
        if found is not None:
            return found
    if data.visitor_id:
        return _by_visitor(conn, account_id, data)
    return _Link("none", data.site_id)


def _by_call(conn: Connection, account_id: int, data: DealInput) -> _Link:
    call_id = str(data.call_id)
    call = deal_repo.call_of_account(conn, account_id, call_id) if is_call_key(call_id) else None
    if call is None:
        raise NotFound(f"call_id: no call {call_id[:40]} in this account")
    site_id = call["site_id"] if call["site_id"] is not None else data.site_id
    _same_site(data.site_id, site_id, "the call")
    return _Link("call", site_id, call["id"], call["session_id"], call["visitor_id"])


def _by_code(conn: Connection, account_id: int, data: DealInput, at: float) -> _Link:
    code = visit_code.normalize(str(data.visit_code))
    if code is None:
        raise SetupError("visit_code: a visit code is 4 to 6 digits")
    site = _site(conn, account_id, data.site_id)
    rows = session_repo.visit_code_holders(conn, site["id"], code, at - visit_code.LIFETIME)
    holders = [
        CodeHolder(r["id"], r["visitor_id"], r["started_at"], r["last_seen_at"]) for r in rows
    ]
    found = visit_code.pick(holders, at)
    if found is None:
        raise NotFound(f"visit_code: no visit of this site showed code {code} by then")
    return _Link("visit_code", site["id"], None, found.session_id, found.visitor_id)


def _by_caller(conn: Connection, account_id: int, data: DealInput, at: float) -> _Link | None:
    # Without a site, only the international form can be read ("+7 495 …").
    region = "ZZ"
    if data.site_id is not None:
        region = _site(conn, account_id, data.site_id)["region"]
    e164 = _caller(str(data.caller), region)
    call = deal_repo.latest_call_from(conn, account_id, e164, data.site_id, at + 1.0)
    if call is None or call["site_id"] is None:
        return None
    return _Link("caller", call["site_id"], call["id"], call["session_id"], call["visitor_id"])


def _by_visitor(conn: Connection, account_id: int, data: DealInput) -> _Link:
    site = _site(conn, account_id, data.site_id)
    visitor = str(data.visitor_id)
    if not deal_repo.visitor_seen(conn, site["id"], visitor):
        raise NotFound("visitor_id: no visit of this site by that visitor")
    return _Link("visitor", site["id"], visitor_id=visitor)


def _caller(raw: str, region: str) -> str:
    e164 = phone.try_e164(raw, region)
    if e164 is None:
        raise SetupError(
            f"caller: not a phone number ({raw[:40]!r}; without a site, give it as +CC…)"
        )
    return e164


def _same_site(given: int | None, found: int | None, what: str) -> None:
    if given is not None and found is not None and given != found:
        raise SetupError(f"site: {what} is of another site ({found})")
