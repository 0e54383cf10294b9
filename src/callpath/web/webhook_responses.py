"""What `/api/v1/webhooks` and `/api/v1/deliveries` answer: one model per resource."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from callpath.web.responses import Outbound, Stored, Time


class Webhook(Outbound):
    id: int
    name: str
    url: str
    events: list[str] = Field(description="The event types it receives")
    site_id: int | None = Field(description="Only this site's events; null: every site's")
    allow_private: bool = Field(description="An admin allowed a private or loopback address")
    state: str = Field(
        description="active | paused (a user paused it) | failing (paused "
        "by callpath after a day of failed attempts: resume it)"
    )
    created_at: Time
    paused_at: Time | None
    failing_since: Time | None = Field(description="First failed attempt since the last success")
    failures: int = Field(description="Failed attempts since the last success")
    pending: int = Field(description="Deliveries waiting (due now or at their retry time)")
    failed: int = Field(description="Deliveries given up (replay them)")


class WebhookCreated(Webhook):
    secret: str = Field(description="Signs every delivery; shown only in this answer")


class WebhookList(Outbound):
    items: list[Webhook]


class Delivery(Outbound):
    id: int
    state: str = Field(description="pending | delivered | failed")
    event_id: str = Field(description="The X-Callpath-Event header: the same on every retry")
    type: str
    subject: str = Field(description="The call, lead or deal the event is about")
    event_at: Time
    attempts: int
    next_at: Time | None = Field(description="When it is tried next (pending only)")
    delivered_at: Time | None
    last_status: int | None = Field(description="HTTP status of the last attempt; null: none")
    last_latency_ms: int | None
    last_error: str | None


class DeliveryPage(Outbound):
    items: list[Delivery]
    next_cursor: str | None


class Attempt(Outbound):
    at: Time
    status: int | None = Field(description="HTTP status; null: no answer (excerpt says why)")
    ok: bool
    latency_ms: int
    excerpt: str | None = Field(description="The start of the answer, or the error")


class Payload(Stored):
    """The event's `data` as it was sent: which parts depends on the event's type
    (docs/integrations.md, "Webhooks out")."""

    call: dict[str, Any] | None = Field(default=None, description="call.*, lead.*, deal.*")
    attribution: dict[str, Any] | None = Field(
        default=None, description="How the call was matched, its channel and visit"
    )
    lead: dict[str, Any] | None = Field(default=None, description="lead.* events")
    deal: dict[str, Any] | None = Field(default=None, description="deal.updated")


class DeliveryDetail(Delivery):
    destination_id: int
    payload: Payload
    attempt_log: list[Attempt]


class Replayed(Outbound):
    replayed: int = Field(description="Deliveries due again now")
