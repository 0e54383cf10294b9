"""Twilio Programmable Voice webhooks (`/hooks/twilio/...`) over `services.pipeline`.

The Voice webhook is answered with TwiML <Dial> to the routing decision (taken from the
route cache when the database is down: nothing here touches the database); the Dial
action, the dialled leg's status and the recording callbacks are answered `<Response/>`.
So is the Voice webhook of a call out (the business's own call, `adapter.call_out`): it
is recorded, never forwarded, and what it plays is the business's TwiML, not ours.
A request whose `X-Twilio-Signature` does not check out is refused with 403, whatever
the integration (unknown, disabled or without an auth token included).
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import Response

from callpath.services.calls import Integration
from callpath.services.pipeline import Reply
from callpath.telephony.twilio import adapter, signature, twiml
from callpath.web.bodies import read_limited
from callpath.web.context import ctx
from callpath.web.edge_responses import HOOK_ERRORS, TWIML
from callpath.web.hooks.common import NO_STORE, checked, receive

router = APIRouter(
    prefix="/hooks/twilio",
    tags=["telephony"],
    responses={**HOOK_ERRORS, 200: TWIML},
    default_response_class=Response,
)
_MAX_BODY = 65_536
_YES = ("1", "true", "yes", "on")


@router.post(
    "/{integration_id}",
    summary="Twilio Voice webhook: a call to a tracking number, answered with TwiML <Dial>",
)
async def voice(integration_id: str, request: Request, background: BackgroundTasks) -> Response:
    reply, params = await _receive(request, background, integration_id, "voice")
    forward_to = reply.body.get("forward_to")
    if "ignored" in reply.body or adapter.call_out(params):
        return _xml(twiml.EMPTY)
    if not forward_to:
        return _xml(twiml.reject())
    caller = next(iter(params.get("From", [])), None)
    record = request.query_params.get("record", "").lower() in _YES
    hooks = f"{_base(request)}/hooks/twilio/{integration_id}"
    return _xml(twiml.dial(str(forward_to), caller, hooks, record))


@router.post("/{integration_id}/dial", summary="Twilio Dial action: how the forwarded leg ended")
async def dial(integration_id: str, request: Request, background: BackgroundTasks) -> Response:
    await _receive(request, background, integration_id, "dial")
    return _xml(twiml.EMPTY)


@router.post("/{integration_id}/status", summary="Twilio status callback of the dialled leg")
async def status(integration_id: str, request: Request, background: BackgroundTasks) -> Response:
    await _receive(request, background, integration_id, "status")
    return _xml(twiml.EMPTY)


@router.post("/{integration_id}/recording", summary="Twilio recording status callback")
async def recording(integration_id: str, request: Request, background: BackgroundTasks) -> Response:
    await _receive(request, background, integration_id, "recording")
    return _xml(twiml.EMPTY)


async def _receive(
    request: Request, background: BackgroundTasks, integration_id: str, callback: str
) -> tuple[Reply, signature.Params]:
    c = ctx(request)
    raw = await read_limited(request, _MAX_BODY)
    params = checked(lambda: adapter.form(raw))
    url = _signed_url(request)
    sent = request.headers.get("x-twilio-signature")
    body = checked(lambda: adapter.canonical(callback, params, c.pipeline.clock()))

    def verify(integ: Integration, _now: float) -> None:
        signature.verify(integ.secret, url, params, sent)

    reply = await receive(c, background, "twilio", integration_id, body, verify, unauthorized=403)
    return reply, params


def _base(request: Request) -> str:
    """This server as Twilio reaches it: CALLPATH_PUBLIC_URL, else the request's own."""
    return ctx(request).settings.public_url or str(request.base_url).rstrip("/")


def _signed_url(request: Request) -> str:
    """The URL Twilio requested (and signed): the public base, the path and the query."""
    public = ctx(request).settings.public_url
    if not public:
        return str(request.url)
    query = request.url.query
    return public + request.url.path + (f"?{query}" if query else "")


def _xml(text: str) -> Response:
    return Response(text, media_type=twiml.CONTENT_TYPE, headers=NO_STORE)
