"""A call's lead in amoCRM, once: `lead.created` becomes a note on the caller's open lead
or a new lead with its contact; every other event, and a call counted as spam, is
answered done without a request.

1. The call has an amoCRM lead or note already (the links store): done, nothing sent,
   so a replay or a second delivery never makes a second lead.
2. The caller's contacts (`GET /api/v4/contacts?query=…&with=leads`; 204 is none), then
   their leads' stages: one neither won (142) nor lost (143) gets a note with the call,
   and is remembered for the call (unless an earlier call has it).
3. Else a new lead with its contact (`POST /api/v4/leads/complex`), remembered for the
   call, then a note with the call (best effort: the lead is made and linked either way).

A failed step is the attempt's outcome (401 and other refusals are final, 429 and 5xx
are retried by the worker, honouring Retry-After); a retry starts again at 1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from callpath.integrations.amocrm import leads
from callpath.integrations.http import Client, Outcome, OutRequest
from callpath.services.deliveries import Links


class Context(Protocol):
    @property
    def client(self) -> Client: ...

    @property
    def links(self) -> Links: ...


class _Stop(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.excerpt)
        self.outcome = outcome


@dataclass
class _Steps:
    """The requests of one attempt: their time adds up, the first failure ends it."""

    client: Client
    latency_ms: int = 0
    last: int | None = None
    done: list[str] = field(default_factory=list)

    def send(self, step: str, request: OutRequest, also_ok: tuple[int, ...] = ()) -> Outcome:
        answer = self.client.send(request)
        self.latency_ms += answer.latency_ms
        self.last = answer.status
        if not answer.ok and answer.status not in also_ok:
            raise _Stop(
                Outcome(
                    answer.status,
                    self.latency_ms,
                    f"{step}: {answer.excerpt}",
                    answer.retry_after,
                )
            )
        return answer

    def read(self, step: str, read: Any, *args: Any) -> Any:
        try:
            return read(*args)
        except leads.Unreadable as exc:  # not amoCRM's documented answer: try again later
            raise _Stop(Outcome(None, self.latency_ms, f"{step}: {exc}")) from exc

    def outcome(self, what: str) -> Outcome:
        return Outcome(self.last or 200, self.latency_ms, what)


def send(
    ctx: Context, destination: Mapping[str, Any], event: Mapping[str, Any], now: float
) -> Outcome:
    if event["type"] != "lead.created":
        return Outcome(200, 0, f"nothing sent: amoCRM takes lead.created, not {event['type']}")
    payload = event["payload"]
    call_id = str((payload.get("lead") or {}).get("call_id") or "")
    if not call_id:
        return Outcome(200, 0, "nothing sent: the lead has no call")
    if (payload.get("lead") or {}).get("spam"):
        return Outcome(200, 0, "nothing sent: the call counts as spam")
    dest_id = int(destination["destination_id"])
    made = [r for k, r in ctx.links.of_call(dest_id, call_id) if k in ("lead", "note")]
    if made:
        return Outcome(200, 0, f"nothing sent: this call has its amoCRM lead already ({made[0]})")
    steps = _Steps(ctx.client)
    try:
        noted = _note_on_open_lead(ctx, steps, destination, payload, call_id, now)
        if noted is not None:
            return steps.outcome(f"noted on the caller's open lead {noted}")
        return steps.outcome(_new_lead(ctx, steps, destination, payload, call_id, now))
    except _Stop as stop:
        return stop.outcome


def _note_on_open_lead(
    ctx: Context,
    steps: _Steps,
    destination: Mapping[str, Any],
    payload: Mapping[str, Any],
    call_id: str,
    now: float,
) -> int | None:
    caller = leads.caller(payload)
    if caller is None:
        return None
    found = steps.send("contact search", leads.contacts_search(destination, caller), (204,))
    ids = steps.read("contact search", leads.leads_of_contacts, found.body, caller)
    if not ids:
        return None
    answer = steps.send("leads", leads.leads_by_id(destination, ids), (204,))
    lead_id: int | None = steps.read("leads", leads.open_lead, answer.body)
    if lead_id is None:
        return None
    request = leads.note(destination, lead_id, leads.note_text(payload))
    noted = steps.send("note", request)
    try:
        note_id = leads.note_id(noted.body)
    except leads.Unreadable:  # the note is there: remembered by its lead and call
        note_id = None
    _remember(ctx, destination, "lead", str(lead_id), call_id, now)
    _remember(ctx, destination, "note", str(note_id or f"{lead_id}:{call_id}"), call_id, now)
    return lead_id


def _new_lead(
    ctx: Context,
    steps: _Steps,
    destination: Mapping[str, Any],
    payload: Mapping[str, Any],
    call_id: str,
    now: float,
) -> str:
    answer = steps.send("lead", leads.complex_lead(destination, payload))
    lead_id, contact_id = steps.read("lead", leads.created, answer.body)
    _remember(ctx, destination, "lead", str(lead_id), call_id, now)
    what = f"lead {lead_id} created" + (f" with contact {contact_id}" if contact_id else "")
    noted = ctx.client.send(leads.note(destination, lead_id, leads.note_text(payload)))
    steps.latency_ms += noted.latency_ms
    if not noted.ok:
        return f"{what}; its note was not added ({noted.status or noted.excerpt[:80]})"
    return what


def _remember(
    ctx: Context,
    destination: Mapping[str, Any],
    kind: str,
    remote_id: str,
    call_id: str,
    now: float,
) -> None:
    ctx.links.remember(
        int(destination["account_id"]),
        int(destination["destination_id"]),
        kind,
        remote_id,
        call_id,
        now,
    )
