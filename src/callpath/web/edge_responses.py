"""What the public edge answers: the tracker (`/t/v1`) and the telephony hooks. These
routes return their responses themselves, so the models document them (`/openapi.json`)
and are never run on a request: the hot paths do no extra work."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from callpath.web.responses import ERRORS, Outbound


class Assignment(Outbound):
    """The tracker's answer: the number to show this visit, and how long it is held."""

    visitor: str = Field(description="Keep it for the visitor's next visits")
    session: str = Field(description="Send it with pings, leave and events")
    number: str | None = Field(description="E.164; null: keep the page's own numbers")
    display: str | None = Field(description="The number formatted for the page")
    national: str | None = Field(description="Its national digits, for tel: links")
    hold_seconds: int = Field(description="Ping before this runs out to keep the number")
    reason: str = Field(
        description="pool | default | excluded | exhausted | bot | client_limit | "
        "rate_limited | none: why this number"
    )
    visit_code: str | None = Field(description="Shown beside the default number when exhausted")


class Ok(Outbound):
    ok: bool


def body_of(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` declaring a JSON body that the endpoint reads itself."""
    schema = model.model_json_schema()
    content = {"schema": schema}
    return {"requestBody": {"required": True, "content": {"application/json": content}}}


class HookReply(Outbound):
    """The generic webhook's answer (and, for other events, Zadarma's)."""

    call: str | None = Field(default=None, description="callpath's id of the call")
    event: str | None = Field(default=None, description="The event as recorded")
    forward_to: str | None = Field(
        default=None, description="To `started`: where to forward the call (E.164); null: nowhere"
    )
    ignored: str | None = Field(
        default=None, description="Why the event was not recorded (200, so it is not resent)"
    )


class ZadarmaRedirect(Outbound):
    """The answer to NOTIFY_START with `?extension=`: the PBX sends the call on."""

    redirect: str | None = Field(default=None, description="The PBX extension")
    return_timeout: int | None = None
    rewrite_forward_number: str | None = Field(default=None, description="Digits, no +")


class SipReply(Outbound):
    ok: bool
    call: str | None


# The telephony hooks' errors: a bad signature is a 401, the SIP edge refuses a client
# outside its allow-list with a 403.
HOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    status: ERRORS[status] for status in (400, 401, 403, 404, 422, 503)
}
TWIML: dict[str, Any] = {
    "description": "TwiML",
    "content": {"application/xml": {"schema": {"type": "string"}}},
}
