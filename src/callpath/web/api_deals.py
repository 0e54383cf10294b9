"""REST API for deals (`/api/v1/deals`): sales from a CRM, linked to the visit they came
from (`services.deals`). Posting a deal with an `external_id` the account already has
updates it: a CRM may send a deal every time it changes."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictFloat, StrictInt, StrictStr

from callpath.domain.deals import STATUSES, amount_text
from callpath.services import auth, deals
from callpath.storage import deal_repo
from callpath.storage.db import transaction
from callpath.web.auth import ApiUser
from callpath.web.call_view import iso
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.models import Inbound
from callpath.web.params import PathId, QueryId, known_query
from callpath.web.responses import ERRORS, Deal, DealPage

router = APIRouter(
    prefix="/api/v1/deals", tags=["deals"], dependencies=[Depends(known_query)], responses=ERRORS
)
# Who records and reads revenue: owners, admins, analysts and their tokens (a CRM's
# token is made with one of these roles).
DEALERS = auth.PLANNERS


class DealIn(Inbound):
    amount: StrictInt | StrictFloat | StrictStr  # `true` is not 1: the service checks it
    status: str = Field(default="open", max_length=8)
    currency: str | None = Field(default=None, max_length=3)
    external_id: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    closed_at: str | None = Field(default=None, max_length=40)
    site_id: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    call_id: str | None = Field(default=None, max_length=40)
    visit_code: str | None = Field(default=None, max_length=12)
    caller: str | None = Field(default=None, max_length=40)
    visitor_id: str | None = Field(default=None, max_length=64)


def _allowed(who: auth.Principal) -> None:
    if who.role not in DEALERS:
        raise ClientError(403, "only owners, admins, analysts and their API tokens see deals")


def moment(text: str | None, name: str = "closed_at") -> float | None:
    """An ISO-8601 time with its UTC offset ("2026-03-01T12:00:00+03:00", or "Z"); a 400
    naming the field `name` otherwise."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ClientError(400, f"{name}: an ISO-8601 time with its UTC offset") from exc
    if parsed.tzinfo is None:
        raise ClientError(400, f"{name}: give the UTC offset (…+03:00 or …Z)")
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError) as exc:
        raise ClientError(400, f"{name}: out of range") from exc


def view(row: dict[str, Any]) -> dict[str, Any]:
    """A deal as the API shows it: money as a decimal string, times in ISO-8601 UTC."""
    return {
        "id": row["id"],
        "site_id": row["site_id"],
        "external_id": row["external_id"],
        "title": row["title"],
        "amount": amount_text(row["amount_cents"]),
        "currency": row["currency"],
        "status": row["status"],
        "closed_at": iso(row["closed_at"]),
        "link": row["link"],
        "call_id": row["call_id"],
        "session_id": row["session_id"],
        "visitor_id": row["visitor_id"],
        "caller": row["caller"],
        "visit_code": row["visit_code"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }


@router.post(
    "",
    status_code=201,
    summary="Record a deal (201), or update it by external_id (200)",
    response_model=Deal,
    responses={200: {"model": Deal, "description": "The deal with that external_id, updated"}},
)
def record_deal(body: DealIn, request: Request, who: ApiUser) -> JSONResponse:
    _allowed(who)
    data = deals.DealInput(**{**body.model_dump(), "closed_at": moment(body.closed_at)})
    with transaction(ctx(request).engine) as conn:
        done = deals.record(conn, who.account_id, data, time.time())
    return JSONResponse(view(done.deal), status_code=201 if done.created else 200)


Cursor = Annotated[str | None, Query(max_length=20)]
Limit = Annotated[int, Query(ge=1, le=500)]
Status = Annotated[str | None, Query(pattern=f"^({'|'.join(STATUSES)})$")]


@router.get(
    "", summary="The account's deals in the order they were recorded", response_model=DealPage
)
def list_deals(
    request: Request,
    who: ApiUser,
    site_id: QueryId = None,
    status: Status = None,
    cursor: Cursor = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    _allowed(who)
    if cursor is not None and not cursor.isdigit():
        raise ClientError(400, "cursor: not a cursor this server gave out")
    after = int(cursor) if cursor else 0
    with transaction(ctx(request).engine, write=False) as conn:
        rows = deal_repo.page(
            conn, who.account_id, site_id=site_id, status=status, after_id=after, limit=limit + 1
        )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [view(r) for r in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


@router.get("/{deal_id}", summary="One deal", response_model=Deal)
def get_deal(deal_id: PathId, request: Request, who: ApiUser) -> dict[str, Any]:
    _allowed(who)
    with transaction(ctx(request).engine, write=False) as conn:
        row = deal_repo.by_id(conn, who.account_id, deal_id)
    if row is None:
        raise ClientError(404, f"no deal {deal_id} in this account")
    return view(row)
