"""A Twilio call out (placed through the REST API, `Direction: outbound-api`), its
signed status callbacks posted to the real app and database: stored as the business's
call to the customer (`To`), never routed, matched or counted as a lead, and a missed
caller it reaches is called back. Its Voice webhook is answered with an empty
<Response/>, never our forwarding <Dial>; the leg our own <Dial> makes for a call in
(`outbound-dial` with its `ParentCallSid`) stays part of that call."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath.storage.tables import call_events
from tests.helpers import Seeded, calls_by_provider_id, classified_leads, count
from tests.integration.test_twilio_webhook import CALLER, Twilio, client, dial_of, empty, twilio

__all__ = ["client", "twilio"]  # the app and integration fixtures of test_twilio_webhook
PARENT = "CA5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e"  # the call in of the fixtures
OUT = "CA7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b"  # the call out of the fixtures
LEG = "CA9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"  # the leg our <Dial> made for the call in


def test_a_missed_caller_reached_by_a_call_out_is_called_back(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    dial_of(twilio.send(client, "voice", To=site.pool[0]))
    assert empty(twilio.send(client, "status_completed", CallStatus="no-answer"))
    assert empty(twilio.send(client, "dial_no_answer", To=site.pool[0]))
    for name in ("call_out_ringing", "call_out_answered", "call_out_completed"):
        assert empty(twilio.send(client, name, From=site.pool[0], Caller=site.pool[0]))
    stored = calls_by_provider_id(engine)
    assert set(stored) == {PARENT, OUT}  # the leg of our <Dial> is no call of its own
    call_in, out = stored[PARENT], stored[OUT]
    assert (call_in["direction"], call_in["status"], call_in["caller"]) == (
        "inbound",
        "missed",
        CALLER,
    )
    assert (out["direction"], out["caller"], out["tracking_number"]) == (
        "outbound",
        CALLER,
        site.pool[0],
    )
    assert (out["state"], out["status"], out["talk"]) == ("ended", "answered", 80)
    assert (out["match_method"], out["session_id"], out["forward_to"]) == ("outbound", None, None)
    leads = classified_leads(engine)
    assert leads[out["id"]]["kind"] == "outbound"
    assert not any(leads[out["id"]][v] for v in ("first_time", "target", "missed", "lost"))
    back = leads[call_in["id"]]
    assert back["missed"] and not back["lost"]
    assert back["called_back_after"] == pytest.approx(0, abs=30)


def test_an_unanswered_call_out_leaves_the_caller_lost(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    dial_of(twilio.send(client, "voice", To=site.pool[0]))
    assert empty(twilio.send(client, "dial_no_answer", To=site.pool[0]))
    assert empty(twilio.send(client, "call_out_completed", CallStatus="no-answer"))
    out = calls_by_provider_id(engine)[OUT]
    assert (out["direction"], out["status"], out["answered_at"]) == ("outbound", "missed", None)
    lost = classified_leads(engine)[calls_by_provider_id(engine)[PARENT]["id"]]
    assert lost["lost"] and lost["called_back_after"] is None


def test_a_call_outs_voice_webhook_is_answered_empty_never_forwarded(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    reply = twilio.send(client, "call_out_voice", From=site.pool[0])
    assert empty(reply), reply.text  # no <Dial>, no <Reject>: the business's own call
    out = calls_by_provider_id(engine)[OUT]
    assert (out["direction"], out["state"], out["forward_to"]) == ("outbound", "started", None)
    assert out["caller"] == CALLER


def test_bad_call_outs_are_4xx_with_a_reason(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    no_customer = twilio.send(client, "call_out_completed", To="")
    assert no_customer.status_code == 400 and "To" in no_customer.json()["error"]
    busy = twilio.send(client, "call_out_completed", CallStatus="busy")
    forged = client.post(
        twilio.path("status"),
        content=b"CallSid=CA1&Direction=outbound-api&To=%2B79161234567&CallStatus=completed",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert busy.status_code == 200 and forged.status_code == 403
    assert forged.json()["error"]
    assert count(engine, call_events) == 1
    assert calls_by_provider_id(engine)[OUT]["status"] == "busy"
