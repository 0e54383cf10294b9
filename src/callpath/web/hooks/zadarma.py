"""Zadarma / Novofon PBX notifications: `/hooks/zadarma/{integration_id}`.

GET answers the `zd_echo` check the personal account makes when the URL is saved; POST
takes the form-encoded notifications. Like every hook, the answer waits only for the
signature and freshness checks, the routing decision and storing the event
(`services.pipeline`). A new NOTIFY_END (or a call out's NOTIFY_OUT_END) of an
integration that holds the API key then wakes this process's statistics thread
(`workers.zadarma_confirm`), after the answer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from callpath.services.calls import Integration
from callpath.telephony.zadarma import adapter, api
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.edge_responses import HOOK_ERRORS, HookReply, ZadarmaRedirect
from callpath.web.errors import ClientError
from callpath.web.hooks.common import NO_STORE, checked, receive
from callpath.workers.zadarma_confirm import Confirmer

router = APIRouter(prefix="/hooks", tags=["telephony"], responses=HOOK_ERRORS)
_MAX_BODY = 16_384
_ECHO = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_EXTENSION = re.compile(r"[0-9]{1,8}")
API_URL_ENV = "CALLPATH_ZADARMA_API_URL"  # Novofon: its own API address


@router.get(
    "/zadarma/{integration_id}",
    summary="Zadarma / Novofon URL check: answers the `zd_echo` value as plain text",
    response_class=PlainTextResponse,
)
def zadarma_echo(integration_id: str, zd_echo: str | None = None) -> PlainTextResponse:
    if zd_echo is None or not _ECHO.fullmatch(zd_echo):
        raise ClientError(400, "zd_echo: required, letters and digits (Zadarma's URL check)")
    headers = {**NO_STORE, "X-Content-Type-Options": "nosniff"}
    return PlainTextResponse(zd_echo, headers=headers)


@router.post(
    "/zadarma/{integration_id}",
    summary="Zadarma / Novofon PBX notification (form, `Signature` header); "
    "NOTIFY_START is answered with the redirect",
    response_model=ZadarmaRedirect | HookReply,
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
    raw = await read_limited(request, _MAX_BODY)
    fields = checked(lambda: adapter.read_form(raw))
    given = request.headers.get("signature")

    keyed = False

    def verify(integ: Integration, now: float) -> None:
        nonlocal keyed
        adapter.verify(integ.secret, given, fields, now)
        keyed = adapter.credentials(integ.secret)[0] is not None

    body = adapter.stored_body(fields, c.pipeline.clock())
    reply = await receive(c, background, "zadarma", integration_id, body, verify)
    if keyed and reply.call_key and fields.get("event") in adapter.ENDS:
        background.add_task(_confirmer(request, c).wake)
    headers = dict(NO_STORE)
    if isinstance(reply.body.get("call"), str):
        headers["X-Callpath-Call"] = reply.body["call"]
    return JSONResponse(adapter.reply(reply.body, extension), headers=headers)


def _confirmer(request: Request, c: Context) -> Confirmer:
    """This app's statistics thread (made on the first END that can be confirmed)."""
    found: Confirmer | None = getattr(request.app.state, "zadarma_confirmer", None)
    if found is None:
        pipeline = c.pipeline

        def fold(key: str) -> None:
            if not pipeline.applier_alive and not pipeline.apply_soon(key):
                pipeline.apply(key)

        base_url = os.environ.get(API_URL_ENV, "").strip() or api.BASE_URL
        pace = Path(pipeline.spool.directory) / "zadarma-statistics.pace"
        found = Confirmer(c.engine, pipeline.clock, fold, base_url, pace)
        request.app.state.zadarma_confirmer = found
    return found
