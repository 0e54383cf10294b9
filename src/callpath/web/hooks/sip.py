"""Kamailio SIP edge: `/hooks/sip/route` (per INVITE) and `/hooks/sip/event` (reports).

Only clients in `CALLPATH_SIP_ALLOW` (loopback by default) may call them, and only with
the integration's secret in `X-Callpath-Secret`. The route answer is the destination
number as plain text, decided and stored like every `started` event
(`services.pipeline`: one routing lookup, the route cache when the database is away);
kamailio forwards to its own default destination when this answer does not come.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from callpath.domain import phone
from callpath.services.calls import Integration
from callpath.services.enrich import client_ip
from callpath.telephony.sip import adapter
from callpath.web.bodies import read_limited
from callpath.web.context import Context, ctx
from callpath.web.edge_responses import HOOK_ERRORS, SipReply
from callpath.web.errors import ClientError
from callpath.web.hooks.common import NO_STORE, checked, receive

router = APIRouter(prefix="/hooks/sip", tags=["telephony"], responses=HOOK_ERRORS)
_MAX_BODY = 4096
IntegrationId = Annotated[str, Query(max_length=24, description="The SIP integration's id")]


class UnknownNumber(Exception):
    """The dialled number is not one of the account's tracking numbers."""


@router.get(
    "/route",
    summary="Kamailio asks where an INVITE goes: the destination number as plain text "
    "(404: not a tracking number)",
    response_class=PlainTextResponse,
)
async def sip_route(
    request: Request,
    background: BackgroundTasks,
    integration: IntegrationId,
    to: Annotated[str, Query(max_length=64, description="Dialled number (R-URI user)")],
    call_id: Annotated[str, Query(max_length=200, description="SIP Call-ID")],
    caller: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> PlainTextResponse:
    c = _allowed(request)
    given = request.headers.get(adapter.AUTH_HEADER)
    body = checked(lambda: adapter.started_body(call_id, caller, to, c.pipeline.clock()))

    def admit(integ: Integration, _now: float) -> None:
        adapter.verify(integ.secret, given)
        _screen(c, integ, to)

    try:
        reply = await receive(c, background, "sip", integration, body, admit)
    except UnknownNumber:
        return PlainTextResponse("not a tracking number", status_code=404, headers=NO_STORE)
    return PlainTextResponse(str(reply.body.get("forward_to") or ""), headers=NO_STORE)


@router.post(
    "/event",
    summary="Kamailio reports a dialog's answer, end or failure (JSON)",
    response_model=SipReply,
)
async def sip_event(
    request: Request, background: BackgroundTasks, integration: IntegrationId
) -> JSONResponse:
    c = _allowed(request)
    given = request.headers.get(adapter.AUTH_HEADER)
    raw = await read_limited(request, _MAX_BODY)
    body = checked(lambda: adapter.event_body(raw, c.pipeline.clock()))

    def verify(integ: Integration, _now: float) -> None:
        adapter.verify(integ.secret, given)

    reply = await receive(c, background, "sip", integration, body, verify)
    return JSONResponse({"ok": True, "call": reply.body.get("call")}, headers=NO_STORE)


def _allowed(request: Request) -> Context:
    """Refuse clients outside `CALLPATH_SIP_ALLOW` before anything else is read."""
    c = ctx(request)
    peer = request.client.host if request.client else None
    ip = client_ip(peer, request.headers.get("x-forwarded-for"), c.settings.trusted_proxies)
    try:
        addr = ipaddress.ip_address(ip or "")
    except ValueError:
        addr = None
    if addr is None or not any(addr in net for net in c.settings.sip_allow):
        raise ClientError(403, "client not allowed for the SIP edge (CALLPATH_SIP_ALLOW)")
    return c


def _screen(c: Context, integ: Integration, to: str) -> None:
    """404 for a number the account does not track (`CallPipeline.tracks`)."""
    e164 = phone.try_e164(to, integ.region)
    if e164 is None or not c.pipeline.tracks(integ, e164):
        raise UnknownNumber(to)
