"""amoCRM's leads back as deals: each lead a webhook names is recorded by its id
(`amocrm:<lead id>`, so every later change updates the same deal) through
`services.deals.record`: its price, won for stage 142, lost for 143, open otherwise.

It is linked to our call when the lead is one this destination made or noted for a call
(the links store), else by a phone of the lead's contact when the form carries one (the
caller's latest call), else kept for the destination's site, unlinked, when it has one
and the lead is in the pipeline it watches (otherwise it is no business of ours).
amoCRM does not sign its webhooks: the random token in the URL is the credential."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from callpath.domain.deals import amount_text
from callpath.integrations.amocrm.leads import LOST, WON
from callpath.integrations.amocrm.status_hook import LeadChange
from callpath.services import deals
from callpath.services.site_input import SetupError
from callpath.storage import deal_repo, outbox_repo, remote_link_repo

Row = dict[str, Any]
_NOBODY = "-" * 43  # compared against when the destination is unknown


@dataclass
class Recorded:
    deals: list[int] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # why, one per lead left out


def authorised(conn: Connection, dest_id: str, token: str) -> Row | None:
    """The amoCRM destination the URL names, when its token is the one given (compared in
    constant time, the same work for an unknown destination); None otherwise."""
    row = None
    if dest_id.isascii() and dest_id.isdigit() and len(dest_id) <= 10:
        account = outbox_repo.account_of(conn, int(dest_id))
        if account is not None:
            row = outbox_repo.destination(conn, account, int(dest_id))
    secret = str(row["secret"]) if row is not None and row["kind"] == "amocrm" else _NOBODY
    same = hmac.compare_digest(secret.encode(), token.encode("utf-8", "replace"))
    return row if same and secret != _NOBODY else None


def record(conn: Connection, destination: Row, changes: list[LeadChange], now: float) -> Recorded:
    done = Recorded()
    for change in changes:
        try:
            with conn.begin_nested():
                deal_id = _one(conn, destination, change, now)
        except SetupError as exc:  # NotFound too: a call or site gone meanwhile
            deal_id = None
            done.ignored.append(f"lead {change.id}: {str(exc)[:200]}")
        if isinstance(deal_id, int):
            done.deals.append(deal_id)
        elif deal_id is not None:
            done.ignored.append(f"lead {change.id}: {deal_id}")
    return done


def _one(conn: Connection, destination: Row, change: LeadChange, now: float) -> int | str:
    """The deal's id, or why the lead is left out."""
    account = int(destination["account_id"])
    dest_id = int(destination["id"])
    call_id = remote_link_repo.call_of_remote(conn, dest_id, "lead", str(change.id))
    site_id = destination["site_id"]
    caller = change.phones[0] if change.phones and call_id is None else None
    if call_id is None and caller is None:
        if site_id is None:
            return "not a lead of our calls, and the destination has no site to keep it for"
        watched = (destination["config"] or {}).get("pipeline_id")
        if watched and change.pipeline_id and int(watched) != change.pipeline_id:
            return f"in pipeline {change.pipeline_id}, not the one watched ({watched})"
    external = f"amocrm:{change.id}"
    before = deal_repo.by_external_id(conn, account, external, lock=True)
    status = "won" if change.status_id == WON else "lost" if change.status_id == LOST else "open"
    if change.status_id is None and before is not None:
        status = str(before["status"])  # an update that does not say: as it was
    amount: object = change.price
    if amount is None:
        amount = amount_text(int(before["amount_cents"])) if before is not None else "0"
    closed = change.modified_at
    if before is not None and before["status"] == status and before["closed_at"] is not None:
        closed = float(before["closed_at"])  # still closed: when it closed stays
    data = deals.DealInput(
        amount=str(amount),
        status=status,
        external_id=external,
        title=change.name,
        closed_at=closed if status in ("won", "lost") else None,
        site_id=None if call_id is not None else site_id,
        call_id=call_id,
        caller=caller,
    )
    return int(deals.record(conn, account, data, now).deal["id"])
