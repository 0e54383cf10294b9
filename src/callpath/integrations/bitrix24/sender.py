"""`lead.created` sent to Bitrix24: the call's lead added once, then its call card
(a call classified as spam when its lead was made is not sent).

Never twice: what was made is remembered by the destination's ids (`Links`: "lead",
then "card"), so a replay or a retry finds it and adds only what is missing. An answer
lost on the way back (a timeout after Bitrix24 made the lead) is the one gap a memory
cannot close, so a retried delivery first asks for a lead of this call
(`crm.lead.list` by `ORIGINATOR_ID`/`ORIGIN_ID`) before it adds one.

Outcomes the worker reads: Bitrix24's own status (503 QUERY_LIMIT_EXCEEDED and 5xx are
retried; 401 for a wrong or deleted webhook, 403, 400 are not), with the webhook's code
kept out of the log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from callpath.domain.outbox import retryable
from callpath.integrations.bitrix24 import lead, rest
from callpath.integrations.http import Client, Outcome
from callpath.services.deliveries import Links


class SendContext(Protocol):
    """What the sender needs of the worker's context (`senders.Context`)."""

    @property
    def client(self) -> Client: ...

    @property
    def links(self) -> Links: ...


def send(
    ctx: SendContext, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    if event["type"] != "lead.created":
        return Outcome(200, 0, f"{event['type']} is not sent to Bitrix24")
    payload = event["payload"] or {}
    if (payload.get("lead") or {}).get("spam"):
        return Outcome(200, 0, "a spam call: not sent to Bitrix24")
    call_id = lead.call_id(payload)
    if call_id is None:
        return Outcome(200, 0, "a lead without a call: nothing to send")
    step = _Step(ctx, destination, call_id, now)
    made = dict(ctx.links.of_call(step.dest_id, call_id))
    lead_id = made.get("lead")
    if lead_id is not None and "card" in made:
        return Outcome(200, 0, f"sent before: lead {lead_id}")
    latency = 0
    if lead_id is None and int(destination.get("attempts") or 0) > 0:
        lead_id, outcome = step.find_lead()
        latency += outcome.latency_ms
        if not outcome.ok:
            return outcome
    if lead_id is None:
        answer = step.call("crm.lead.add", lead.lead_request(payload))
        latency += answer.outcome.latency_ms
        if not answer.ok:
            return answer.outcome
        lead_id = _id(answer.result)
        if lead_id is None:
            why = f"crm.lead.add answered no lead id: {answer.result!r}"
            return Outcome(502, latency, why[:200])
    step.remember("lead", lead_id)
    card = step.call("crm.timeline.comment.add", lead.card_request(lead_id, payload))
    latency += card.outcome.latency_ms
    if not card.ok:
        if retryable(card.outcome.status):
            return card.outcome  # tried again later: the lead is kept, the card added then
        step.remember("card", f"refused:{call_id}")
        return Outcome(200, latency, f"lead {lead_id}; the call card was refused: {card.error}")
    step.remember("card", _id(card.result) or f"added:{call_id}")
    return Outcome(card.outcome.status, latency, f"lead {lead_id}, call card added")


class _Step:
    def __init__(
        self, ctx: SendContext, destination: Mapping[str, Any], call_id: str, now: float
    ) -> None:
        self.ctx = ctx
        self.base = str(destination["url"])
        self.private = bool(destination["allow_private"])
        self.account_id = int(destination["account_id"])
        self.dest_id = int(destination["destination_id"])
        self.call_id = call_id
        self.now = now

    def call(self, method: str, params: Mapping[str, Any]) -> rest.Answer:
        request = rest.call(self.base, method, params, self.private)
        return rest.read(self.ctx.client.send(request), self.base)

    def find_lead(self) -> tuple[str | None, Outcome]:
        """The lead an earlier attempt made, if its answer was lost."""
        query = {
            "filter": {"ORIGINATOR_ID": "callpath", "ORIGIN_ID": self.call_id},
            "select": ["ID"],
        }
        answer = self.call("crm.lead.list", query)
        if not answer.ok:
            return None, answer.outcome
        rows = answer.result if isinstance(answer.result, list) else []
        found = [_id(r.get("ID")) for r in rows if isinstance(r, Mapping)]
        return next((f for f in found if f), None), answer.outcome

    def remember(self, kind: str, remote_id: str) -> None:
        self.ctx.links.remember(
            self.account_id, self.dest_id, kind, remote_id, self.call_id, self.now
        )


def _id(value: Any) -> str | None:
    """A Bitrix24 id (a number, or its digits as text)."""
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    return text if text.isdigit() and 0 < len(text) <= 18 else None
