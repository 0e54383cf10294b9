"""Inbound call webhooks (`/hooks/...`): thin wrappers over `services.pipeline`.

The answer waits only for verification, the routing decision and storing the raw
event; folding and matching run after it went out (a background task here, and the
app's call worker for anything left pending).
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from callpath.services.pipeline import Reply, Unavailable
from callpath.telephony.base import BadEvent, Unauthorized
from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.errors import ClientError

router = APIRouter(prefix="/hooks", tags=["telephony"])
_MAX_HOOK_BODY = 65_536


@router.post(
    "/generic/{integration_id}",
    summary="Report a call event (signed); `started` is answered with the routing decision",
)
async def generic_event(
    integration_id: str, request: Request, background: BackgroundTasks
) -> JSONResponse:
    c = ctx(request)
    body = await read_limited(request, _MAX_HOOK_BODY)
    timestamp = request.headers.get("x-callpath-timestamp")
    signature = request.headers.get("x-callpath-signature")
    reply = await _run(c.pipeline.receive_generic, integration_id, timestamp, signature, body)
    if reply.call_key:
        background.add_task(c.pipeline.apply, reply.call_key)
    return JSONResponse(reply.body, headers={"Cache-Control": "no-store"})


async def _run(fn: Any, *args: Any) -> Reply:
    try:
        reply: Reply = await anyio.to_thread.run_sync(fn, *args)
    except Unauthorized as exc:
        raise ClientError(401, str(exc)) from exc
    except BadEvent as exc:
        raise ClientError(400, str(exc)) from exc
    except Unavailable as exc:
        raise ClientError(503, str(exc)) from exc
    return reply
