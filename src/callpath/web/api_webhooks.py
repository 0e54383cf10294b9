"""REST API for webhooks out (`/api/v1/webhooks`) and their deliveries
(`/api/v1/deliveries`): add, list, pause, resume, remove; the delivery log; replay.
Owners and admins only (a webhook sends the account's callers and visits elsewhere)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StrictBool, StrictInt

from callpath.domain.outbox import PAUSED_BY_FAILURES
from callpath.integrations import destinations
from callpath.services import auth
from callpath.storage.db import transaction
from callpath.web.api_deals import moment
from callpath.web.auth import ApiUser
from callpath.web.call_view import iso
from callpath.web.context import ctx
from callpath.web.errors import ClientError
from callpath.web.models import Inbound
from callpath.web.params import PathId, known_query
from callpath.web.responses import ERRORS
from callpath.web.webhook_responses import (
    DeliveryDetail,
    DeliveryPage,
    Replayed,
    Webhook,
    WebhookCreated,
    WebhookList,
)

router = APIRouter(
    prefix="/api/v1", tags=["webhooks"], dependencies=[Depends(known_query)], responses=ERRORS
)
Row = dict[str, Any]


class WebhookIn(Inbound):
    url: str = Field(max_length=2000)
    events: list[str] | str = Field(description="Event types (a list or comma-separated), or all")
    name: str | None = Field(default=None, max_length=200)
    site_id: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    allow_private: StrictBool = False


class PeriodIn(Inbound):
    from_: str = Field(alias="from", max_length=40, description="ISO-8601 with its offset")
    to: str = Field(max_length=40, description="ISO-8601 with its offset (exclusive)")


def _allowed(who: auth.Principal) -> None:
    if who.role not in auth.MANAGERS:
        raise ClientError(403, "only owners and admins (and their API tokens) manage webhooks")


def webhook_view(row: Row) -> Row:
    state = "active"
    if row["paused_at"] is not None:
        state = "failing" if row["paused_reason"] == PAUSED_BY_FAILURES else "paused"
    return {
        "id": row["id"],
        "name": row["name"],
        "url": row["url"],
        "events": str(row["events"]).split(","),
        "site_id": row["site_id"],
        "allow_private": bool(row["allow_private"]),
        "state": state,
        "created_at": iso(row["created_at"]),
        "paused_at": iso(row["paused_at"]),
        "failing_since": iso(row["failing_since"]),
        "failures": row["failures"],
        "pending": row["pending"],
        "failed": row["failed"],
    }


def delivery_view(row: Row) -> Row:
    return {
        "id": row["id"],
        "state": row["state"],
        "event_id": f"evt_{row['event_id']}",
        "type": row["type"],
        "subject": row["subject"],
        "event_at": iso(row["event_at"]),
        "attempts": row["attempts"],
        "next_at": iso(row["next_at"]) if row["state"] == "pending" else None,
        "delivered_at": iso(row["delivered_at"]),
        "last_status": row.get("last_status"),
        "last_latency_ms": row.get("last_latency_ms"),
        "last_error": row["last_error"],
    }


def detail_view(row: Row) -> Row:
    attempts = row["attempts_made"]
    last = attempts[-1] if attempts else {}
    return {
        **delivery_view({**row, "last_status": last.get("status"),
                         "last_latency_ms": last.get("latency_ms")}),
        "destination_id": row["destination_id"],
        "payload": row["payload"],
        "attempt_log": [
            {
                "at": iso(a["at"]),
                "status": a["status"],
                "ok": bool(a["ok"]),
                "latency_ms": a["latency_ms"],
                "excerpt": a["excerpt"],
            }
            for a in attempts
        ],
    }  # fmt: skip


@router.post("/webhooks", status_code=201, summary="Add a webhook", response_model=WebhookCreated)
def add_webhook(body: WebhookIn, request: Request, who: ApiUser) -> JSONResponse:
    _allowed(who)
    with transaction(ctx(request).engine) as conn:
        added = destinations.add_webhook(
            conn,
            who.account_id,
            body.url,
            body.events,
            time.time(),
            body.name,
            body.site_id,
            body.allow_private,
        )
    view = {**webhook_view(added.destination), "secret": added.secret}
    return JSONResponse(WebhookCreated(**view).model_dump(mode="json"), status_code=201)


@router.get("/webhooks", summary="The account's webhooks", response_model=WebhookList)
def list_webhooks(request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine, write=False) as conn:
        rows = destinations.listed(conn, who.account_id, "webhook")
    return {"items": [webhook_view(r) for r in rows if r["kind"] == "webhook"]}


@router.get("/webhooks/{webhook_id}", summary="One webhook", response_model=Webhook)
def get_webhook(webhook_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine, write=False) as conn:
        return webhook_view(destinations.found(conn, who.account_id, webhook_id))


@router.delete(
    "/webhooks/{webhook_id}",
    summary="Remove a webhook, its queued deliveries and their log; the webhook as it was",
    response_model=Webhook,
)
def remove_webhook(webhook_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine) as conn:
        gone = webhook_view(destinations.found(conn, who.account_id, webhook_id))
        destinations.remove(conn, who.account_id, webhook_id)
    return gone


@router.post(
    "/webhooks/{webhook_id}/pause",
    summary="Stop sending (events keep queueing)",
    response_model=Webhook,
)
def pause_webhook(webhook_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine) as conn:
        return webhook_view(destinations.pause(conn, who.account_id, webhook_id, time.time()))


@router.post(
    "/webhooks/{webhook_id}/resume",
    summary="Send again, the queued events first",
    response_model=Webhook,
)
def resume_webhook(webhook_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine) as conn:
        return webhook_view(destinations.resume(conn, who.account_id, webhook_id))


State = Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")]
Cursor = Annotated[str | None, Query(max_length=20)]
Limit = Annotated[int, Query(ge=1, le=500)]


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="The webhook's delivery log, newest first",
    response_model=DeliveryPage,
)
def webhook_deliveries(
    webhook_id: PathId,
    request: Request,
    who: ApiUser,
    state: State = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Row:
    _allowed(who)
    if cursor is not None and not cursor.isdigit():
        raise ClientError(400, "cursor: not a cursor this server gave out")
    before = int(cursor) if cursor else None
    with transaction(ctx(request).engine, write=False) as conn:
        rows = destinations.log(conn, who.account_id, webhook_id, limit + 1, state, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [delivery_view(r) for r in rows],
        "next_cursor": str(rows[-1]["id"]) if more else None,
    }


@router.post(
    "/webhooks/{webhook_id}/replay",
    summary="Send again every delivery whose event happened in a period",
    response_model=Replayed,
)
def replay_period(webhook_id: PathId, body: PeriodIn, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    since, until = moment(body.from_, "from"), moment(body.to, "to")
    assert since is not None and until is not None
    with transaction(ctx(request).engine) as conn:
        done = destinations.replay_period(
            conn, who.account_id, webhook_id, since, until, time.time()
        )
    return {"replayed": done}


@router.get(
    "/deliveries/{delivery_id}",
    summary="One delivery: its payload and every attempt",
    response_model=DeliveryDetail,
)
def get_delivery(delivery_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine, write=False) as conn:
        return detail_view(destinations.delivery(conn, who.account_id, delivery_id))


@router.post(
    "/deliveries/{delivery_id}/replay",
    summary="Send one delivery again, now",
    response_model=DeliveryDetail,
)
def replay_delivery(delivery_id: PathId, request: Request, who: ApiUser) -> Row:
    _allowed(who)
    with transaction(ctx(request).engine) as conn:
        return detail_view(destinations.replay_one(conn, who.account_id, delivery_id, time.time()))
