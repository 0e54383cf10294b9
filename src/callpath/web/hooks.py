"""Inbound call webhooks (`/hooks/...`): thin wrappers over `services.pipeline`.

The answer waits only for verification, the routing decision and storing the raw
event; folding and matching run after it went out (a background task here, and the
app's call worker for anything left pending).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from callpath.services.pipeline import Reply, Unavailable
from callpath.telephony.base import BadEvent, Unauthorized
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.dbcall import apply_after, run_routing
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
    reply = await run_hook(
        c, c.pipeline.receive_generic, integration_id, timestamp, signature, body
    )
    apply_after(c, background, reply)
    return JSONResponse(reply.body, headers={"Cache-Control": "no-store"})


async def run_hook(c: Context, fn: Any, *args: Any, unauthorized: int = 401) -> Reply:
    """Run a pipeline entry point; its refusals become HTTP errors with a reason."""
    try:
        reply: Reply = await run_routing(c, fn, *args)
    except Unauthorized as exc:
        raise ClientError(unauthorized, str(exc)) from exc
    except BadEvent as exc:
        raise ClientError(400, str(exc)) from exc
    except Unavailable as exc:
        raise ClientError(503, str(exc)) from exc
    return reply
