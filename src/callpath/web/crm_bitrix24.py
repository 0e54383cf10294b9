"""Bitrix24's outgoing webhook (`POST /hooks/bitrix24/{destination_id}`): a deal was
added or changed. Checked by the destination's application token, the deal read back
from Bitrix24 and recorded (`integrations.bitrix24.inbound`), on a thread: the read-back
is a request to Bitrix24 that may take the client's whole timeout."""

from __future__ import annotations

import time
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from callpath.integrations.bitrix24 import inbound
from callpath.integrations.http import Client
from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.edge_responses import HOOK_ERRORS
from callpath.web.errors import ClientError
from callpath.web.params import PathId
from callpath.web.responses import ERRORS, Outbound

router = APIRouter(prefix="/hooks", tags=["crm"])
_MAX_BODY = 16_384  # an event is a few hundred bytes
_NO_STORE = {"Cache-Control": "no-store"}
_ANSWERS = {**HOOK_ERRORS, 502: {**ERRORS[503], "description": "Bitrix24 refused the read"}}


class Bitrix24Reply(Outbound):
    """What the deal event did (Bitrix24 reads only the status)."""

    deal: int | None = Field(default=None, description="callpath's id of the deal")
    created: bool | None = Field(default=None, description="New to callpath, or updated")
    status: str | None = Field(default=None, description="won, lost or open")
    link: str | None = Field(default=None, description="What links it: call, caller, none")
    call_id: str | None = Field(default=None, description="The call it came from")
    recorded: bool | None = Field(default=None, description="false: not kept (see reason)")
    reason: str | None = None
    ignored: str | None = Field(default=None, description="Not a deal event")


@cache
def _client() -> Client:
    """The read-backs' client (one per process, thread-safe)."""
    return Client()


@router.post(
    "/bitrix24/{destination_id}",
    summary="A Bitrix24 deal added or changed (its outgoing webhook, form-encoded)",
    response_model=Bitrix24Reply,
    responses=_ANSWERS,
)
async def bitrix24_deal(destination_id: PathId, request: Request) -> JSONResponse:
    c = ctx(request)
    body = await read_limited(request, _MAX_BODY)
    try:
        answer = await run_in_threadpool(
            inbound.receive, c.engine, _client(), destination_id, body, time.time()
        )
    except inbound.Refused as exc:
        raise ClientError(exc.status, exc.reason) from exc
    return JSONResponse(answer, headers=_NO_STORE)
