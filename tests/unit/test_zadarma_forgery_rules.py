"""Zadarma's forgery limits, pure: the freshness window, which events of a call are
folded (`screen`), the statistics' signing and a call's outcome from its lines."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from callpath.telephony.base import BadEvent, Unauthorized
from callpath.telephony.zadarma import adapter, api, freshness, screen
from callpath.workers import zadarma_confirm as confirm

NOW = freshness.wall_clock("2026-12-06 12:00:00")  # read as UTC
START = {
    "event": "NOTIFY_START",
    "pbx_call_id": "in_1",
    "caller_id": "79161234567",
    "called_did": "74951112231",
    "call_start": "2026-12-06 15:00:00",
}  # UTC+3
END = {**START, "event": "NOTIFY_END", "disposition": "answered", "duration": "75"}
OUT_START = {
    "event": "NOTIFY_OUT_START",
    "pbx_call_id": "out_1",
    "internal": "100",
    "destination": "79161234567",
    "caller_id": "74951112231",
    "call_start": "2026-12-06 15:00:00",
}
OUT_END = {**OUT_START, "event": "NOTIFY_OUT_END", "disposition": "answered", "duration": "40"}


@pytest.mark.parametrize(
    ("event", "call_start", "fresh"),
    [
        ("NOTIFY_START", "2020-03-01 12:00:00", False),
        ("NOTIFY_START", "2026-12-06 00:00:00", True),  # UTC-12
        ("NOTIFY_START", "2026-12-05 23:40:00", False),  # behind UTC-12 by more than the skew
        ("NOTIFY_START", "2026-12-07 02:14:00", True),  # UTC+14
        ("NOTIFY_START", "2026-12-07 02:31:00", False),
        ("NOTIFY_END", "2026-12-05 00:00:00", True),  # a long call, UTC-12
        ("NOTIFY_END", "2026-12-04 23:30:00", False),
        ("NOTIFY_RECORD", "2020-03-01 12:00:00", True),  # not dated: signs pbx_call_id
        ("NOTIFY_OUT_START", "2020-03-01 12:00:00", False),
        ("NOTIFY_OUT_START", "2026-12-07 02:31:00", False),
        ("NOTIFY_OUT_START", "2026-12-06 15:00:00", True),
        ("NOTIFY_OUT_END", "2026-12-05 00:00:00", True),
        ("NOTIFY_OUT_END", "2026-12-04 23:30:00", False),
    ],
)
def test_the_freshness_window(event: str, call_start: str, fresh: bool) -> None:
    fields = {**START, "event": event, "call_start": call_start}
    if fresh:
        freshness.check(fields, NOW)
    else:
        with pytest.raises(Unauthorized, match="call_start"):
            freshness.check(fields, NOW)


def test_a_start_without_a_readable_call_start_is_a_bad_event() -> None:
    for value in ("", "06.12.2026 12:00", "2026-13-40 00:00:00"):
        with pytest.raises(BadEvent, match="call_start"):
            freshness.check({**START, "call_start": value}, NOW)


def test_credentials_split_key_and_secret() -> None:
    assert adapter.credentials("only-secret") == (None, "only-secret")
    assert adapter.credentials("KEY:SECRET") == ("KEY", "SECRET")
    assert adapter.credentials(":x") == (None, ":x")


def row(n: int, fields: dict[str, str] | None = None, line: Any = None) -> dict[str, Any]:
    if line is not None:
        body = adapter.statistics_body(line, NOW + n)
        return {"id": n, "kind": adapter.STATISTICS, "body": body.decode()}
    assert fields is not None
    return {"id": n, "kind": "x", "body": adapter.stored_body(fields, NOW + n).decode()}


def outcome(rows: list[dict[str, Any]]) -> list[tuple[str, str | None, float | None]]:
    events = [adapter.parse(r["body"].encode())[0] for r in screen.screen(rows)]
    return [(e.kind, e.status, e.duration) for e in events]


def test_screen_needs_the_start_and_keeps_the_first_matching_end() -> None:
    assert outcome([row(1, END)]) == []
    forged = {**END, "disposition": "busy", "duration": "0"}
    lifted = {**END, "caller_id": "79990000000"}
    rows = [row(1, START), row(2, lifted), row(3, forged), row(4, END)]
    assert outcome(rows) == [("started", None, None), ("ended", "busy", 0.0)]
    line = {"pbx_call_id": "in_1", "disposition": "answered", "seconds": 75}
    assert outcome([*rows, row(5, line=line)])[-1] == ("ended", "answered", 75.0)
    not_found = {"pbx_call_id": "in_1", "found": False}
    assert outcome([*rows, row(5, line=not_found)])[-1] == ("ended", "busy", 0.0)
    assert outcome([row(1, START), row(5, line=line)])[-1] == ("ended", "answered", 75.0)


def test_a_call_out_ends_only_by_its_own_out_end() -> None:
    assert outcome([row(1, OUT_END)]) == []  # no OUT_START held: no call
    lifted = {**OUT_END, "destination": "79990000000", "disposition": "busy"}
    rows = [
        row(1, OUT_START),
        row(2, lifted),
        row(3, OUT_END),
        row(4, {**OUT_END, "duration": "1"}),
    ]
    assert outcome(rows) == [("started", None, None), ("ended", "answered", 40.0)]
    line = {"pbx_call_id": "out_1", "disposition": "no answer", "seconds": 0}
    assert outcome([*rows, row(5, line=line)])[-1] == ("ended", "missed", 0.0)
    # an END of the other kind, even with matching signed fields, ends neither call
    crossed = {**OUT_END, "event": "NOTIFY_END"}  # no called_did on either side
    assert outcome([row(1, OUT_START), row(2, crossed)]) == [("started", None, None)]
    into_a_call_in = {**END, "event": "NOTIFY_OUT_END", "internal": "", "destination": ""}
    assert outcome([row(1, START), row(2, into_a_call_in)]) == [("started", None, None)]


def test_the_statistics_request_is_signed_as_documented() -> None:
    params = {"start": "2026-12-06 15:00:00", "end": "2026-12-06 15:02:00", "version": "2"}
    query = "end=2026-12-06+15%3A02%3A00&start=2026-12-06+15%3A00%3A00&version=2"
    assert api.query(params) == query
    md5 = hashlib.md5(query.encode()).hexdigest()
    digest = hmac.new(b"s3cret", f"/v1/statistics/pbx/{query}{md5}".encode(), "sha1")
    expected = base64.b64encode(digest.hexdigest().encode()).decode()
    assert api.signature("/v1/statistics/pbx/", params, "s3cret") == expected


def test_a_call_with_several_lines_is_answered_if_any_line_was() -> None:
    lines = [
        {"pbx_call_id": "in_1", "disposition": "no answer", "seconds": 0},
        {"pbx_call_id": "in_1", "disposition": "answered", "seconds": 40},
        {"pbx_call_id": "in_1", "disposition": "busy", "seconds": "0"},
    ]
    assert confirm.outcome(lines)["disposition"] == "answered"
    assert confirm.outcome(lines)["seconds"] == 40
    assert confirm.outcome(lines[:1] + lines[2:])["disposition"] == "busy"
