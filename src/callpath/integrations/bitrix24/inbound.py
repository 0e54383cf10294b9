"""A deal event from a Bitrix24 outgoing webhook: checked, read back, recorded.

The event must carry the outgoing webhook's application token as stored for the
destination (compared in constant time; a destination without one refuses every event).
Bitrix24 sends the deal's id only, so the deal is read with `crm.deal.get` through the
destination's incoming webhook and recorded by `services.deals.record` under
`bitrix24:<deal id>` (the same deal again updates it): won for a successful stage, lost
for a failed one, open otherwise. It is linked to our call through the lead it came from
(the lead the sender made of the call), else through its contact's phone (the caller's
latest call), else to the destination's site.

Everything here blocks (the database, Bitrix24): the web runs it on a thread. When
Bitrix24 cannot be read (down, slow, rate-limited) the event is answered 503 and nothing
is kept: Bitrix24 does not retry outgoing webhooks reliably, so the deal is recorded at
its next change."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from sqlalchemy import Engine

from callpath.domain.outbox import retryable
from callpath.domain.phone import try_e164
from callpath.integrations.bitrix24 import deal, rest
from callpath.integrations.bitrix24.connect import KIND
from callpath.integrations.http import Client
from callpath.services import deals
from callpath.services.site_input import SetupError
from callpath.storage import outbox_repo, remote_link_repo, site_repo
from callpath.storage.db import transaction

log = logging.getLogger("callpath.bitrix24")
Row = dict[str, Any]


class Refused(Exception):
    """The event is not taken: `status` and `reason` are the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def receive(engine: Engine, client: Client, dest_id: int, body: bytes, now: float) -> Row:
    """What to answer Bitrix24 (200); `Refused` otherwise."""
    try:
        event = deal.read_event(body)
    except deal.BadForm as exc:
        raise Refused(400, str(exc)) from exc
    dest, region = _destination(engine, dest_id)
    _verify(dest, event.token)
    if event.event not in deal.DEAL_EVENTS:
        return {"ignored": f"{event.event[:64]}: only deal events are read"}
    base, private = str(dest["url"]), bool(dest["allow_private"])
    found = _deal(client, base, private, event.deal_id)
    call_id = _call_of_lead(engine, dest_id, found.lead_id)
    caller = None
    if call_id is None and found.contact_id:
        caller = _contact_phone(client, base, private, found.contact_id, region)
    data = deals.DealInput(
        amount=found.amount,
        status=found.status,
        currency=found.currency,
        external_id=f"bitrix24:{found.deal_id}",
        title=found.title,
        closed_at=found.closed_at,
        site_id=None if call_id else dest["site_id"],
        call_id=call_id,
        caller=caller,
    )
    if call_id is None and caller is None and dest["site_id"] is None:
        log.warning("Bitrix24 deal %s: no call and no site to link it to", found.deal_id)
        return {"recorded": False, "reason": "no call of ours and no site to keep it under"}
    with transaction(engine) as conn:
        try:
            recorded = deals.record(conn, int(dest["account_id"]), data, now)
        except SetupError as exc:
            if caller is None or dest["site_id"] is not None:
                raise
            # a caller who never called, and no site to keep the deal under
            return {"recorded": False, "reason": str(exc)}
    row = recorded.deal
    return {
        "deal": row["id"],
        "created": recorded.created,
        "status": row["status"],
        "link": row["link"],
        "call_id": row["call_id"],
    }


def _destination(engine: Engine, dest_id: int) -> tuple[Row, str]:
    with transaction(engine, write=False) as conn:
        account = outbox_repo.account_of(conn, dest_id)
        dest = outbox_repo.destination(conn, account, dest_id) if account else None
        if dest is None or dest["kind"] != KIND:
            raise Refused(404, f"no Bitrix24 destination {dest_id}")
        if dest["site_id"] is not None:
            sites = [site_repo.site_row(conn, site_id=dest["site_id"]) or {}]
        else:
            sites = site_repo.list_sites(conn, int(dest["account_id"]))
    # A contact's phone in a national form is read in the sites' country (when they
    # agree on one); else only the international form is.
    regions = {str(s.get("region")) for s in sites if s.get("region")}
    return dest, regions.pop() if len(regions) == 1 else "ZZ"


def _verify(dest: Row, given: str) -> None:
    stored = str((dest["config"] or {}).get("application_token") or "")
    if not stored:
        raise Refused(
            401,
            "no application token is set for this destination: "
            "callpath bitrix24 set-token ID TOKEN (the outgoing webhook's token)",
        )
    if not hmac.compare_digest(stored.encode("utf-8"), given.encode("utf-8")):
        raise Refused(401, "auth[application_token] is not this destination's")


def _deal(client: Client, base: str, private: bool, deal_id: str) -> deal.Deal:
    answer = _get(client, base, private, "crm.deal.get", deal_id)
    if not answer.ok:
        status = 503 if retryable(answer.outcome.status) else 502
        log.warning("Bitrix24 crm.deal.get %s: %s", deal_id, answer.error)
        raise Refused(status, f"Bitrix24 did not give deal {deal_id}: {answer.error}")
    try:
        return deal.read_deal(answer.result)
    except deal.BadDeal as exc:
        raise Refused(502, str(exc)) from exc


def _call_of_lead(engine: Engine, dest_id: int, lead_id: str | None) -> str | None:
    if lead_id is None:
        return None
    with transaction(engine, write=False) as conn:
        return remote_link_repo.call_of_remote(conn, dest_id, "lead", lead_id)


def _contact_phone(
    client: Client, base: str, private: bool, contact_id: str, region: str
) -> str | None:
    """The contact's first phone in E.164, when Bitrix24 gives it (one more request);
    None otherwise: the deal is then kept under the site."""
    answer = _get(client, base, private, "crm.contact.get", contact_id)
    if not answer.ok:
        log.info("Bitrix24 crm.contact.get %s: %s", contact_id, answer.error)
        return None
    raw = deal.phone_of(answer.result)
    return try_e164(raw, region) if raw else None


def _get(client: Client, base: str, private: bool, method: str, item_id: str) -> rest.Answer:
    return rest.read(client.send(rest.call(base, method, {"id": int(item_id)}, private)), base)
