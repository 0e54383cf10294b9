"""Generic webhook: signature checks fail closed; bodies are read strictly."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from callpath.telephony.base import BadEvent, Ignored, Unauthorized
from callpath.telephony.generic.adapter import parse, sign, verify

SECRET = "s3cret-for-tests"
NOW = 1_790_000_000
BODY = b'{"event":"started","call_id":"1","at":"2026-09-21T10:00:00+03:00","called":"+74951112231"}'


def test_signature_is_the_documented_hmac() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, str(NOW), BODY) == expected
    verify(SECRET, str(NOW), expected, BODY, NOW)
    verify(SECRET, str(NOW), expected.upper(), BODY, NOW + 299)


@pytest.mark.parametrize(
    ("secret", "stamp", "signature", "reason"),
    [
        (None, str(NOW), "x", "no secret"),
        ("", str(NOW), "x", "no secret"),
        (SECRET, None, "x", "required"),
        (SECRET, str(NOW), None, "required"),
        (SECRET, "12a", "x", "unix seconds"),
        (SECRET, str(NOW - 301), "sig", "replay window"),
        (SECRET, str(NOW + 301), "sig", "replay window"),
        (SECRET, str(NOW), "0" * 64, "bad signature"),
    ],
)
def test_requests_that_cannot_be_proven_are_refused(
    secret: str | None, stamp: str | None, signature: str | None, reason: str
) -> None:
    if signature == "sig" and stamp:
        signature = sign(SECRET, stamp, BODY)  # right signature, stale or future time
    with pytest.raises(Unauthorized, match=reason):
        verify(secret, stamp, signature, BODY, NOW)


def test_a_changed_body_breaks_the_signature() -> None:
    signature = sign(SECRET, str(NOW), BODY)
    with pytest.raises(Unauthorized):
        verify(SECRET, str(NOW), signature, BODY.replace(b"1112231", b"1112232"), NOW)


def test_parse_reads_every_field() -> None:
    body = {
        "event": "ended",
        "call_id": 42,
        "at": "2026-09-21T07:01:00Z",
        "caller": "+7 916 123-45-67",
        "called": "+74951112231",
        "duration": 65,
        "talk": 60.5,
        "status": "answered",
        "recording_url": "https://pbx.example/rec/42.mp3",
        "extra": {"ignored": True},
    }
    event, key = parse(json.dumps(body).encode())
    assert event.kind == "ended" and event.call_id == "42"
    assert event.at == 1_789_974_060.0
    assert (event.duration, event.talk, event.status) == (65.0, 60.5, "answered")
    assert event.recording_url == "https://pbx.example/rec/42.mp3"
    # the same event re-serialised in another key order is the same delivery
    reordered = json.dumps(dict(reversed(list(body.items())))).encode()
    assert parse(reordered)[1] == key
    assert parse(json.dumps({**body, "talk": 61}).encode())[1] != key


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1,2]", "JSON object"),
        (b'{"call_id":"1"}', "event"),
        (b'{"event":"started","at":"2026-09-21T07:00:00Z","called":"+7"}', "call_id"),
        (b'{"event":"started","call_id":"1","at":"2026-09-21T07:00:00Z"}', "called"),
        (b'{"event":"ended","call_id":"1"}', "at"),
        (b'{"event":"ended","call_id":"1","at":"2026-09-21T07:00:00"}', "UTC offset"),
        (b'{"event":"ended","call_id":"1","at":"yesterday"}', "ISO-8601"),
        (b'{"event":"ended","call_id":"1","at":99}', "plausible"),
        (b'{"event":"ended","call_id":"1","at":1.7e9,"duration":-1}', "duration"),
        (b'{"event":"ended","call_id":"1","at":1.7e9,"talk":"60"}', "talk"),
        (b'{"event":"ended","call_id":"1","at":1.7e9,"status":"great"}', "status"),
        (b'{"event":"ended","call_id":{"a":1},"at":1.7e9}', "call_id"),
        (b'{"event":"ended","call_id":"1\\u0000","at":1.7e9}', "printable"),
        (
            b'{"event":"recording","call_id":"1","at":1.7e9,"recording_url":"javascript:alert(1)"}',
            "http",
        ),
        (b"[" * 5000 + b"]" * 5000, "JSON"),
        (b"\xff\xfe", "JSON"),
    ],
)
def test_malformed_bodies_get_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadEvent, match=reason):
        parse(body)


def test_unknown_event_kinds_are_ignored_not_errors() -> None:
    with pytest.raises(Ignored):
        parse(b'{"event":"transferred","call_id":"1","at":1.7e9}')
