"""Zadarma / Novofon PBX notifications: `/hooks/zadarma/{integration_id}`.

GET answers the `zd_echo` check the personal account makes when the URL is saved; POST
takes the form-encoded notifications. Like every hook, the answer waits only for the
signature check, the routing decision and storing the event (`services.pipeline`).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from callpath.services.calls import Integration
from callpath.telephony.base import BadEvent
from callpath.telephony.zadarma import adapter
from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.dbcall import apply_after
from callpath.web.errors import ClientError
from callpath.web.hooks import run_hook

router = APIRouter(prefix="/hooks", tags=["telephony"])
_MAX_BODY = 16_384
_ECHO = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_EXTENSION = re.compile(r"[0-9]{1,8}")


@router.get(
    "/zadarma/{integration_id}",
    summary="Zadarma / Novofon URL check: answers the `zd_echo` value as plain text",
    response_class=PlainTextResponse,
)
def zadarma_echo(integration_id: str, zd_echo: str | None = None) -> PlainTextResponse:
    if zd_echo is None or not _ECHO.fullmatch(zd_echo):
        raise ClientError(400, "zd_echo: required, letters and digits (Zadarma's URL check)")
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    return PlainTextResponse(zd_echo, headers=headers)


@router.post(
    "/zadarma/{integration_id}",
    summary="Zadarma / Novofon PBX notification (form, `Signature` header); "
    "NOTIFY_START is answered with the redirect",
)
async def zadarma_notification(
    integration_id: str,
    request: Request,
    background: BackgroundTasks,
    extension: str | None = None,
) -> JSONResponse:
    c = ctx(request)
    if extension is not None and not _EXTENSION.fullmatch(extension):
        raise ClientError(400, "extension: the PBX extension number (digits)")
    try:
        fields = adapter.read_form(await read_limited(request, _MAX_BODY))
    except BadEvent as exc:
        raise ClientError(400, str(exc)) from exc
    given = request.headers.get("signature")

    def verify(integ: Integration, _now: float) -> None:
        adapter.verify(integ.secret, given, fields)

    body = adapter.stored_body(fields, c.pipeline.clock())
    reply = await run_hook(
        c, c.pipeline.receive, "zadarma", integration_id, body, verify, adapter.parse
    )
    apply_after(c, background, reply)
    headers = {"Cache-Control": "no-store"}
    if isinstance(reply.body.get("call"), str):
        headers["X-Callpath-Call"] = reply.body["call"]
    return JSONResponse(adapter.reply(reply.body, extension), headers=headers)
