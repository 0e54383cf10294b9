"""Zadarma / Novofon adapter: the documented signatures, strict forms, event mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import pytest

from callpath import telephony
from callpath.telephony.base import BadEvent, Ignored, Unauthorized
from callpath.telephony.zadarma import adapter

SECRET = "zd-secret-4f9a"
FIXTURES = Path(adapter.__file__).parent / "fixtures"
AT = 1_772_355_600.0


def fixture(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def documented(secret: str, *parts: str) -> str:
    """The docs' PHP: base64_encode(hash_hmac('sha1', a . b . c, API_SECRET))."""
    hexdigest = hmac.new(secret.encode(), "".join(parts).encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(hexdigest.encode()).decode()


def test_hand_checked_vectors() -> None:
    # computed once with `openssl dgst -sha1 -hmac … | base64`, independently of the code
    start, record = fixture("notify_start"), fixture("notify_record")
    assert adapter.signature(SECRET, start) == (
        "NDdkZDU0NDc5ZWZiOTY2Mzk0OWU5ZTBiNWJhZWJiOTcyYzQzNDRiOQ=="
    )
    assert adapter.signature(SECRET, record) == (
        "OTlhYzc4MjI0N2UwMDNjYzUxOWY4NTEzMTE1YTJlYWRhMGFlZjE5Yg=="
    )


@pytest.mark.parametrize(
    ("name", "order"),
    [
        ("notify_start", ("caller_id", "called_did", "call_start")),
        ("notify_internal", ("caller_id", "called_did", "call_start")),
        ("notify_answer", ("caller_id", "destination", "call_start")),
        ("notify_end", ("caller_id", "called_did", "call_start")),
        ("notify_out_start", ("internal", "destination", "call_start")),
        ("notify_out_end", ("internal", "destination", "call_start")),
        ("notify_record", ("pbx_call_id", "call_id_with_rec")),
    ],
)
def test_each_event_is_signed_as_documented(name: str, order: tuple[str, ...]) -> None:
    fields = fixture(name)
    expected = documented(SECRET, *(fields[f] for f in order))
    assert adapter.signature(SECRET, fields) == expected
    adapter.verify(SECRET, expected, fields, AT)
    with pytest.raises(Unauthorized, match="bad signature"):
        adapter.verify("another-secret", expected, fields, AT)
    changed = {**fields, order[0]: fields[order[0]] + "1"}
    with pytest.raises(Unauthorized, match="bad signature"):
        adapter.verify(SECRET, expected, changed, AT)


@pytest.mark.parametrize(
    ("secret", "given", "reason"),
    [
        (None, "x", "no API secret"),
        ("", "x", "no API secret"),
        (SECRET, None, "required"),
        (SECRET, "", "required"),
        (SECRET, "ä" * 8, "bad signature"),
    ],
)
def test_unprovable_notifications_are_refused(
    secret: str | None, given: str | None, reason: str
) -> None:
    with pytest.raises(Unauthorized, match=reason):
        adapter.verify(secret, given, fixture("notify_start"), AT)


def test_events_without_a_documented_signature_are_let_through_to_be_ignored() -> None:
    fields = {"event": "NOTIFY_IVR", "pbx_call_id": "x"}
    adapter.verify(SECRET, None, fields, AT)
    with pytest.raises(Ignored):
        adapter.parse(adapter.stored_body(fields, AT))


def test_read_form_takes_a_zadarma_post() -> None:
    fields = fixture("notify_start")
    assert adapter.read_form(urlencode(fields).encode()) == fields
    assert adapter.read_form(b"") == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "not a form"),
        (b"event=%FF", "not a form"),
        (b"justtext", "not a form"),
        (b"a=1&a=2", "twice"),
        (b"a=" + b"x" * 201, "printable"),
        (b"a=%00", "printable"),
        (b"&".join(b"f%d=1" % i for i in range(50)), "not a form"),
    ],
)
def test_read_form_refuses_hostile_bodies(raw: bytes, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        adapter.read_form(raw)


def test_start_answer_end_record_become_call_events() -> None:
    start, _ = adapter.parse(adapter.stored_body(fixture("notify_start"), AT))
    assert (start.kind, start.call_id, start.at) == ("started", "in_6f1c2a9e0b3d", AT)
    assert (start.caller, start.called) == ("+79161234567", "+74951112231")
    answer, _ = adapter.parse(adapter.stored_body(fixture("notify_answer"), AT + 8))
    assert (answer.kind, answer.called, answer.at) == ("answered", None, AT + 8)
    end, _ = adapter.parse(adapter.stored_body(fixture("notify_end"), AT + 84))
    assert (end.kind, end.status, end.duration) == ("ended", "answered", 75.0)
    assert end.recording_url == "zadarma:1772355600.4711"
    record, _ = adapter.parse(adapter.stored_body(fixture("notify_record"), AT + 130))
    assert (record.kind, record.recording_url) == ("recording", "zadarma:1772355600.4711")
    assert telephony.parser("zadarma") is adapter.parse


@pytest.mark.parametrize(
    ("disposition", "status"),
    [
        ("answered", "answered"),
        ("busy", "busy"),
        ("cancel", "missed"),
        ("no answer", "missed"),
        ("failed", "failed"),
        ("no money", "failed"),
        ("unallocated number", "failed"),
        ("line limit", "failed"),
        ("no money, no limit", "failed"),
        ("something new", None),
    ],
)
def test_dispositions_map_to_statuses(disposition: str, status: str | None) -> None:
    fields = {**fixture("notify_end"), "disposition": disposition, "is_recorded": "0"}
    end, _ = adapter.parse(adapter.stored_body(fields, AT))
    assert (end.status, end.recording_url) == (status, None)


def test_internal_notifications_are_ignored() -> None:
    with pytest.raises(Ignored):
        adapter.parse(adapter.stored_body(fixture("notify_internal"), AT))


def test_a_call_out_is_an_outbound_call_to_the_destination() -> None:
    start, _ = adapter.parse(adapter.stored_body(fixture("notify_out_start"), AT))
    end, _ = adapter.parse(adapter.stored_body(fixture("notify_out_end"), AT + 50))
    assert (start.kind, start.call_id, start.direction) == (
        "started",
        "out_0d4e7b21c9aa",
        "outbound",
    )
    assert (start.caller, start.called) == ("+74951112231", "+79161234567")  # line, customer
    assert (end.kind, end.direction, end.status, end.duration) == (
        "ended",
        "outbound",
        "answered",
        42,
    )
    assert (end.caller, end.called, end.recording_url) == ("+74951112231", "+79161234567", None)
    unset = {**fixture("notify_out_start"), "caller_id": "0"}  # no number set on the extension
    assert adapter.parse(adapter.stored_body(unset, AT))[0].caller is None


def test_dedup_key_is_the_fields_whatever_the_arrival() -> None:
    fields = fixture("notify_end")
    _, first = adapter.parse(adapter.stored_body(fields, AT))
    _, retry = adapter.parse(adapter.stored_body(dict(reversed(fields.items())), AT + 60))
    _, other = adapter.parse(adapter.stored_body({**fields, "duration": "76"}, AT))
    assert first == retry != other


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"pbx_call_id": "1"}, "event"),
        ({"event": "NOTIFY_START", "called_did": "74951112231"}, "pbx_call_id"),
        ({"event": "NOTIFY_START", "pbx_call_id": "1"}, "called_did"),
        ({"event": "NOTIFY_END", "pbx_call_id": "1", "duration": "soon"}, "duration"),
        ({"event": "NOTIFY_END", "pbx_call_id": "1", "duration": "-5"}, "duration"),
        ({"event": "NOTIFY_END", "pbx_call_id": "1", "duration": "nan"}, "duration"),
        ({"event": "NOTIFY_RECORD", "pbx_call_id": "1"}, "call_id_with_rec"),
        ({"event": "NOTIFY_OUT_START", "pbx_call_id": "1", "internal": "100"}, "destination"),
        ({"event": "NOTIFY_OUT_END", "pbx_call_id": "1", "duration": "x"}, "duration"),
    ],
)
def test_unreadable_notifications_are_bad_events(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        adapter.parse(adapter.stored_body(fields, AT))


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"fields":{"a":1},"received_at":1.8e9}',
        b'{"fields":{}}',
        b'{"fields":{},"received_at":1e99}',
        b'{"fields":{},"received_at":true}',
    ],
)
def test_broken_stored_bodies_are_bad_events(body: bytes) -> None:
    with pytest.raises(BadEvent):
        adapter.parse(body)


def test_reply_redirects_start_through_the_extension() -> None:
    started = {"call": "c1", "event": "started", "forward_to": "+74951234567"}
    assert adapter.reply(started, "100") == {
        "redirect": "100",
        "return_timeout": 0,
        "rewrite_forward_number": "74951234567",
    }
    assert adapter.reply(started, None) == {}
    assert adapter.reply({**started, "forward_to": None}, "100") == {}
    ended = {"call": "c1", "event": "ended"}
    assert adapter.reply(ended, "100") == ended


def test_instructions_name_the_url_and_the_notifications() -> None:
    text = telephony.instructions("zadarma", "https://t.example/hooks/zadarma/int_1", SECRET)
    assert "https://t.example/hooks/zadarma/int_1?extension=100" in text
    for word in ("NOTIFY_START", "NOTIFY_END", "NOTIFY_RECORD", "zd_echo", "Novofon"):
        assert word in text
