"""Deals from any CRM, signed (`POST /hooks/deals/{webhook_id}`): the same JSON as
`POST /api/v1/deals`, authenticated like callpath's own webhooks by the HMAC of the
webhook the CRM receives its calls by (`X-Callpath-Timestamp`, `X-Callpath-Signature` =
hex(HMAC-SHA256(secret, timestamp + "." + body)), five minutes' replay window). One
secret both ways: a CRM that checks callpath's signature can sign its answers with it.
No bearer token is needed; an unknown webhook or a bad signature is 401 before the body
is read into the database."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from callpath.services import deals
from callpath.storage import outbox_repo
from callpath.storage.db import transaction
from callpath.telephony.base import Unauthorized
from callpath.telephony.generic.adapter import verify
from callpath.web.api_deals import DealIn, moment, view
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.dbcall import run_db
from callpath.web.edge_responses import HOOK_ERRORS
from callpath.web.errors import ClientError

router = APIRouter(prefix="/hooks/deals", tags=["crm"], responses=HOOK_ERRORS)
MAX_BODY = 16_384


@router.post("/{webhook_id}", summary="A CRM's deal, signed with its webhook's secret")
async def signed_deal(webhook_id: str, request: Request) -> JSONResponse:
    c = ctx(request)
    raw = await read_limited(request, MAX_BODY)
    stamp = request.headers.get("x-callpath-timestamp")
    signature = request.headers.get("x-callpath-signature")
    account = await run_db(c, _authorised, c, webhook_id[:12], stamp, signature, raw)
    if account is None:
        raise ClientError(401, "unknown webhook or bad signature")
    data = _deal(raw)
    done = await run_db(c, _record, c, account, data)
    return JSONResponse(view(done.deal), status_code=201 if done.created else 200)


def _authorised(
    c: Context, webhook_id: str, stamp: str | None, signature: str | None, raw: bytes
) -> int | None:
    if not webhook_id.isdigit():
        return None
    with transaction(c.engine, write=False) as conn:
        row = outbox_repo.webhook_secret(conn, int(webhook_id))
    if row is None:
        return None
    try:
        verify(str(row["secret"]), stamp, signature, raw, time.time())
    except Unauthorized:
        return None
    return int(row["account_id"])


def _deal(raw: bytes) -> deals.DealInput:
    try:
        body = DealIn.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise ClientError(
            400, f"the body must be a deal as POST /api/v1/deals takes: {_why(exc)}"
        ) from exc
    return deals.DealInput(**{**body.model_dump(), "closed_at": moment(body.closed_at)})


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"[:200]
    return "not JSON"


def _record(c: Context, account_id: int, data: deals.DealInput) -> Any:
    with transaction(c.engine) as conn:
        return deals.record(conn, account_id, data, time.time())
