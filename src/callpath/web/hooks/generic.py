"""The generic webhook (`/hooks/generic/{id}`): signed JSON call events from any PBX or
script (docs/webhooks.md); `started` is answered with the routing decision.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse

from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.dbcall import apply_after
from callpath.web.edge_responses import HOOK_ERRORS, HookReply
from callpath.web.hooks.common import NO_STORE, run_hook

router = APIRouter(prefix="/hooks", tags=["telephony"], responses=HOOK_ERRORS)
_MAX_HOOK_BODY = 65_536


@router.post(
    "/generic/{integration_id}",
    summary="Report a call event (signed); `started` is answered with the routing decision",
    response_model=HookReply,
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
    return JSONResponse(reply.body, headers=NO_STORE)
