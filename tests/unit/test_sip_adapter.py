"""The SIP edge adapter and config rendering (pure): secrets, reports, stored bodies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from callpath.cli.sip import TEMPLATE, EdgeIntegration, config_values, render
from callpath.services.setup import SetupError
from callpath.telephony import parser
from callpath.telephony.base import BadEvent, Unauthorized
from callpath.telephony.sip import adapter

FIXTURES = Path(adapter.__file__).parent / "fixtures"
NOW = 1_800_000_000.0


def test_secret_is_compared_and_fails_closed() -> None:
    adapter.verify("s3cret-value", "s3cret-value")
    for secret, given in [("s3cret-value", "wrong"), ("s3cret-value", None), ("", ""), (None, "x")]:
        with pytest.raises(Unauthorized):
            adapter.verify(secret, given)


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (486, "busy"),
        (600, "busy"),
        (408, "missed"),
        (480, "missed"),
        (487, "missed"),
        (404, "failed"),
        (503, "failed"),
    ],
)
def test_final_reply_codes_map_to_statuses(code: int, status: str) -> None:
    assert adapter.status_for(code) == status


def test_route_query_is_stored_as_a_started_event() -> None:
    body = adapter.started_body("abc@10.0.0.1", "79161234567", "74951112231", NOW)
    event, key = parser("sip")(body)
    assert (event.kind, event.call_id, event.called, event.caller, event.at) == (
        "started",
        "abc@10.0.0.1",
        "74951112231",
        "79161234567",
        NOW,
    )
    again, again_key = adapter.parse(adapter.started_body("abc@10.0.0.1", None, "7495", NOW + 1))
    assert again_key == key  # a retransmitted INVITE is the same event
    assert again.caller is None


@pytest.mark.parametrize("name", ["answered", "ended", "failed_busy"])
def test_fixture_reports_parse(name: str) -> None:
    raw = (FIXTURES / f"{name}.json").read_bytes()
    event, key = adapter.parse(adapter.event_body(raw, NOW))
    assert event.call_id == json.loads(raw)["call_id"]
    assert event.at == json.loads(raw)["at"]
    if name == "failed_busy":
        assert (event.kind, event.status, event.talk) == ("ended", "busy", 0)
    else:
        assert (event.kind, event.status) == (name, None)
    assert key == adapter.dedup_key(json.loads(raw)["event"], event.call_id)


def test_report_without_time_is_dated_on_arrival() -> None:
    stored = adapter.event_body(b'{"event":"ended","call_id":"x"}', NOW)
    assert adapter.parse(stored)[0].at == NOW


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        b'{"event":"started","call_id":"x"}',
        b'{"event":"ended"}',
        b'{"event":"ended","call_id":"x","at":"yesterday"}',
        b'{"event":"ended","call_id":"x","at":12}',
        b'{"event":"failed","call_id":"x"}',
        b'{"event":"failed","call_id":"x","code":200}',
        b'{"event":"ended","call_id":"' + b"x" * 300 + b'"}',
    ],
)
def test_bad_reports_are_refused(raw: bytes) -> None:
    with pytest.raises(BadEvent):
        adapter.event_body(raw, NOW)


EDGE = EdgeIntegration("int_0123456789abcdef", "a" * 64, "+74951096375")
OPTIONS: dict[str, Any] = {
    "listen": "192.0.2.10:5060",
    "callpath_url": "http://127.0.0.1:8000/",
    "pbx": "pbx.example:5080",
    "default": None,
    "ring_timeout": 30,
    "debug": 2,
}


def test_template_renders_every_value() -> None:
    text = render(TEMPLATE.read_text(), config_values(EDGE, **OPTIONS))
    assert "{{" not in text
    assert '#!define CALLPATH_URL "http://127.0.0.1:8000"' in text
    assert '#!define DEFAULT_DEST "+74951096375"' in text
    assert '#!define PBX "pbx.example:5080"' in text
    assert "listen=udp:192.0.2.10:5060" in text
    assert 'modparam("tm", "fr_inv_timer", 30000)' in text
    assert f'#!define CALLPATH_SECRET "{EDGE.secret}"' in text


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("callpath_url", 'http://x/"\nloadmodule "evil.so'),
        ("callpath_url", "ftp://x"),
        ("pbx", "pbx.example:5080\nlisten=udp:0.0.0.0:1"),
        ("pbx", "pbx.example:99999"),
        ("listen", "pbx.example:5060"),
        ("listen", "127.0.0.1:0"),
        ("default", "not a number"),
    ],
)
def test_values_that_could_break_the_config_are_refused(option: str, value: str) -> None:
    with pytest.raises(ValueError):
        config_values(EDGE, **{**OPTIONS, option: value})


def test_a_site_without_default_destination_needs_one() -> None:
    edge = EdgeIntegration(EDGE.id, EDGE.secret, None)
    with pytest.raises(SetupError, match="--default"):
        config_values(edge, **OPTIONS)
    values = config_values(edge, **{**OPTIONS, "default": "8 495 111-22-33"})
    assert values["default_dest"] == "+74951112233"
