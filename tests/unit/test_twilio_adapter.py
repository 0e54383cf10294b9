"""The Twilio adapter without a server: signatures, the stored form, events, TwiML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import fromstring

import pytest

from callpath import telephony
from callpath.telephony.base import BadEvent, Ignored, Unauthorized
from callpath.telephony.twilio import adapter, signature, twiml
from callpath.telephony.twilio.signature import Params

FIXTURES = Path(adapter.__file__).parent / "fixtures"
TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://track.example.com/hooks/twilio/int_0123456789abcdef"
T0 = 1_800_000_000.0
PARENT = "CA5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e"


def fixture(name: str, **replace: str) -> tuple[str, Params]:
    """A stored Twilio request: its callback and its form parameters (values replaced by
    name where given)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    params: Params = {}
    for key, value in data["params"]:
        params.setdefault(key, []).append(replace.get(key, value))
    return str(data["callback"]), params


def event(name: str, at: float = T0, **replace: str) -> Any:
    callback, params = fixture(name, **replace)
    return adapter.parse(adapter.canonical(callback, params, at))


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("+12349013030", "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        ("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ],
)
def test_twilios_documented_example_is_accepted(caller: str, expected: str) -> None:
    vector = json.loads((FIXTURES / "documented_vector.json").read_text())
    params = {k: [caller if k in ("Caller", "From") else v] for k, v in vector["params"]}
    signature.verify(vector["auth_token"], vector["url"], params, expected)
    assert signature.sign(vector["auth_token"], vector["url"], params) == expected
    with pytest.raises(Unauthorized):
        signature.verify("54321", vector["url"], params, expected)
    with pytest.raises(Unauthorized):
        signature.verify(
            vector["auth_token"], vector["url"].replace("foo=1", "foo=2"), params, expected
        )


def test_the_url_is_accepted_with_or_without_its_default_port() -> None:
    _, params = fixture("voice")
    with_port = URL.replace(".com/", ".com:443/")
    signature.verify(TOKEN, URL, params, signature.sign(TOKEN, with_port, params))
    signature.verify(TOKEN, with_port, params, signature.sign(TOKEN, URL, params))
    other_port = URL.replace(".com/", ".com:8443/")
    with pytest.raises(Unauthorized):
        signature.verify(TOKEN, URL, params, signature.sign(TOKEN, other_port, params))


def test_missing_wrong_or_unkeyed_signatures_are_refused() -> None:
    _, params = fixture("voice")
    good = signature.sign(TOKEN, URL, params)
    for secret, sent in [(TOKEN, None), (TOKEN, ""), (TOKEN, good[:-2] + "A="), ("", good)]:
        with pytest.raises(Unauthorized):
            signature.verify(secret, URL, params, sent)
    tampered = {**params, "To": ["+74950000000"]}
    with pytest.raises(Unauthorized):
        signature.verify(TOKEN, URL, tampered, good)


def test_repeated_parameters_are_signed_and_stored_with_every_value() -> None:
    params = adapter.form(b"CallSid=CA1&To=%2B74953000001&Tag=b&Tag=a&Empty=")
    assert params == {"CallSid": ["CA1"], "To": ["+74953000001"], "Tag": ["b", "a"], "Empty": [""]}
    sent = signature.sign(TOKEN, URL, params)
    signature.verify(TOKEN, URL, params, sent)
    with pytest.raises(Unauthorized):
        signature.verify(TOKEN, URL, {**params, "Tag": ["b"]}, sent)
    stored = json.loads(adapter.canonical("voice", params, T0))
    assert stored["params"]["Tag"] == ["b", "a"] and stored["params"]["CallSid"] == "CA1"


def test_each_callback_becomes_its_event() -> None:
    started, _ = event("voice")
    assert (started.kind, started.call_id, started.at) == ("started", PARENT, T0)
    assert (started.caller, started.called) == ("+79161234567", "+74953000001")
    ended, _ = event("dial_completed", T0 + 50)
    assert (ended.kind, ended.status, ended.talk, ended.call_id) == (
        "ended",
        "answered",
        42,
        PARENT,
    )
    assert [event(n)[0].status for n in ("dial_busy", "dial_no_answer")] == ["busy", "missed"]
    for status, expected in [("failed", "failed"), ("canceled", "missed")]:
        assert event("dial_busy", DialCallStatus=status)[0].status == expected
    answered, _ = event("status_answered")
    assert (answered.kind, answered.call_id, answered.called) == ("answered", PARENT, None)
    leg_end, _ = event("status_completed")
    assert (leg_end.kind, leg_end.status, leg_end.talk) == ("ended", "answered", 42)
    assert event("status_completed", CallStatus="no-answer")[0].status == "missed"
    recording, _ = event("recording")
    assert recording.kind == "recording" and recording.call_id == PARENT
    assert recording.recording_url.startswith("https://api.twilio.com/")


def test_a_call_out_is_an_outbound_call_to_the_customer() -> None:
    out = "CA7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b"
    events = [event(n)[0] for n in ("call_out_ringing", "call_out_answered", "call_out_completed")]
    assert [(e.kind, e.call_id, e.direction) for e in events] == [
        ("started", out, "outbound"),
        ("answered", out, "outbound"),
        ("ended", out, "outbound"),
    ]
    assert {(e.caller, e.called) for e in events} == {("+74953000001", "+79161234567")}
    assert (events[2].status, events[2].talk) == ("answered", 80)
    assert event("call_out_completed", CallStatus="busy")[0].status == "busy"
    voice, _ = event("call_out_voice")
    assert (voice.kind, voice.direction, voice.called) == ("started", "outbound", "+79161234567")
    orphan_leg, _ = event("call_out_answered", Direction="outbound-dial")  # no parent
    assert orphan_leg.direction == "outbound"
    with pytest.raises(BadEvent, match="To"):
        event("call_out_completed", To="")
    with pytest.raises(Ignored):
        event("call_out_completed", CallStatus="paused")


def test_the_leg_our_dial_makes_stays_the_callers_call() -> None:
    """outbound-dial with a ParentCallSid: our forwarding's leg, not a call out."""
    _, params = fixture("status_answered")
    assert not adapter.call_out(params)
    assert adapter.call_out(fixture("call_out_answered")[1])
    for name in ("voice", "status_answered", "status_completed", "dial_completed"):
        leg, _ = event(name)
        assert (leg.call_id, leg.direction) == (PARENT, None)


def test_progress_we_do_not_use_is_ignored_and_garbage_is_a_bad_event() -> None:
    for name, change in [
        ("status_answered", {"CallStatus": "ringing"}),
        ("recording", {"RecordingStatus": "absent"}),
        ("dial_busy", {"DialCallStatus": "transferred"}),
    ]:
        with pytest.raises(Ignored):
            event(name, **change)
    for name, change in [("voice", {"CallSid": ""}), ("voice", {"To": ""})]:
        with pytest.raises(BadEvent):
            event(name, **change)
    with pytest.raises(BadEvent):
        event("recording", RecordingUrl="javascript:alert(1)")
    for raw in [b"", b"[]", b'{"callback":"sms","params":{}}', b'{"callback":"voice","params":{}}']:
        with pytest.raises(BadEvent):
            adapter.parse(raw)
    odd, _ = event("voice", From="anonymous" * 10, DialCallDuration="x")
    assert odd.caller is None  # an implausible caller id stays unknown; the call still routes


def test_a_redelivery_has_the_same_dedup_key_and_other_callbacks_do_not() -> None:
    first = event("dial_completed", T0 + 50)[1]
    assert event("dial_completed", T0 + 300)[1] == first
    assert event("dial_busy", T0 + 50)[1] != first
    _, params = fixture("dial_completed")  # the same parameters at another URL
    assert adapter.parse(adapter.canonical("voice", params, T0 + 50))[1] != first


def test_the_registry_reads_stored_twilio_deliveries() -> None:
    callback, params = fixture("voice")
    stored = adapter.canonical(callback, params, T0)
    assert telephony.parser("twilio")(stored) == adapter.parse(stored)
    text = telephony.instructions("twilio", URL, TOKEN)
    assert URL in text and f"{URL}?record=1" in text and TOKEN not in text


def test_the_dial_keeps_the_caller_id_and_points_callbacks_back() -> None:
    xml = twiml.dial("+74951096375", "+79161234567", URL, record=True)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Dial ')
    dial = fromstring(xml).find("Dial")
    assert dial is not None
    assert dial.attrib == {
        "callerId": "+79161234567",
        "action": f"{URL}/dial",
        "record": "record-from-answer",
        "recordingStatusCallback": f"{URL}/recording",
    }
    number = dial.find("Number")
    assert number is not None and number.text == "+74951096375"
    assert number.attrib == {
        "statusCallbackEvent": "answered completed",
        "statusCallback": f"{URL}/status",
    }
    odd = twiml.dial("+74951096375", "anonymous", "https://a.example/x&<y>", record=False)
    plain = fromstring(odd)[0]  # well-formed: what is interpolated is escaped
    assert "callerId" not in plain.attrib and "record" not in plain.attrib
    assert plain.attrib["action"] == "https://a.example/x&<y>/dial"
