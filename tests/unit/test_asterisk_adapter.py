"""What the AMI listener stores, read back as folding reads it."""

from __future__ import annotations

import json

import pytest

from callpath import telephony
from callpath.domain.calls import CallEvent
from callpath.telephony.asterisk import adapter
from callpath.telephony.base import BadEvent

NOW = 1_800_000_000.0
REC = "file:///var/spool/asterisk/monitor/2026/01/01/in-74957770102-1767229800.801.wav"


def test_stored_events_read_back_the_same() -> None:
    ended = CallEvent(
        "ended", "1767225600.101", NOW, "79161234567", "+74957770101", 60.0, 52.0, "answered"
    )
    recording = CallEvent("recording", "1767229800.801", NOW, recording_url=REC)
    out = CallEvent("started", "1.3", NOW, "74951096375", "+79265554433", direction="outbound")
    for event in (
        ended,
        CallEvent("started", "1.2", NOW - 60, "7916", "+74957770101"),
        recording,
        out,
    ):
        parsed, key = telephony.parser("asterisk")(adapter.canonical(event, NOW))
        assert parsed == event
        assert key == adapter.dedup_key(event.kind, event.call_id)


def test_the_dedup_key_ignores_arrival_time() -> None:
    event = CallEvent("answered", "1.2", NOW)
    first = adapter.parse(adapter.canonical(event, NOW))[1]
    assert adapter.parse(adapter.canonical(event, NOW + 30))[1] == first
    assert adapter.parse(adapter.canonical(CallEvent("answered", "1.3", NOW), NOW))[1] != first


@pytest.mark.parametrize(
    "doc",
    [
        {"event": "recording", "call_id": "1", "at": NOW, "received_at": NOW},
        {"event": "ended", "call_id": "1", "at": NOW, "received_at": NOW, "recording_url": REC},
        *(
            {
                "event": "recording",
                "call_id": "1",
                "at": NOW,
                "received_at": NOW,
                "recording_url": u,
            }
            for u in (
                "https://pbx.example/rec.wav",
                "file://pbx/var/rec.wav",
                "file:///var/a b.wav",
                "file:///var/a\nb.wav",
                "file:///" + "a" * 2000,
                7,
            )
        ),
        {"event": "ended", "at": NOW, "received_at": NOW},
        {"event": "ended", "call_id": "1", "at": "soon", "received_at": NOW},
        {"event": "ended", "call_id": "1", "at": NOW, "received_at": 5},
        {"event": "ended", "call_id": "1", "at": NOW, "received_at": NOW, "status": "odd"},
        {"event": "ended", "call_id": "1", "at": NOW, "received_at": NOW, "talk": -1},
        {"event": "ended", "call_id": "x" * 81, "at": NOW, "received_at": NOW},
        {"event": "ended", "call_id": "1", "at": NOW, "received_at": NOW, "direction": "up"},
        [],
    ],
)
def test_bad_documents_are_refused(doc: object) -> None:
    with pytest.raises(BadEvent):
        adapter.parse(json.dumps(doc).encode())


def test_instructions_name_the_integration_and_a_read_only_user() -> None:
    text = telephony.instructions("asterisk", "http://cp.example/hooks/asterisk/int_ab12", "s3")
    assert "--integration int_ab12" in text
    assert "read = call,cdr,dialplan" in text and "write =\n" in text
    assert "s3" not in text
