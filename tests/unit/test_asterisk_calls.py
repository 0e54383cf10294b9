"""Recorded AMI streams → the call events of calls to tracking numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from callpath.domain import phone
from callpath.domain.calls import CallEvent, fold
from callpath.telephony.asterisk import adapter, ami
from callpath.telephony.asterisk.calls import CallTracker

FIXTURES = Path(adapter.__file__).parent / "fixtures"
TRACKED = frozenset({"+74957770101", "+74957770102", "+74957770103"})
T0 = 1_800_000_000.0


def tracked(digits: str) -> str | None:
    e164 = phone.try_e164(digits)
    return e164 if e164 in TRACKED else None


def outside(digits: str) -> str | None:
    """As the listener's: a valid number that is none of the tracking numbers."""
    e164 = phone.try_e164(digits)
    return e164 if e164 and tracked(digits) is None else None


def blocks(name: str) -> list[ami.Block]:
    return parsed((FIXTURES / name).read_bytes())


def parsed(text: bytes) -> list[ami.Block]:
    return ami.BlockParser().feed(text)


def play(name: str, tracker: CallTracker | None = None) -> list[CallEvent]:
    """Feed a stream as it arrived: our clock follows the PBX's timestamps, shifted."""
    return play_blocks(blocks(name), tracker)


def play_blocks(stream: list[ami.Block], tracker: CallTracker | None = None) -> list[CallEvent]:
    tracker = tracker or CallTracker(tracked)
    first = float(stream[0]["Timestamp"])
    events: list[CallEvent] = []
    for block in stream:
        events += tracker.feed(block, T0 + float(block["Timestamp"]) - first)
    return events


def test_answered_call_with_talk() -> None:
    events = play("answered.ami")
    assert [e.kind for e in events] == ["started", "answered", "ended"]
    started, answered, ended = events
    assert {e.call_id for e in events} == {"1767225600.101"}
    assert started.at == pytest.approx(T0)
    assert (started.caller, started.called) == ("79161234567", "+74957770101")
    assert answered.at == pytest.approx(T0 + 8.108, abs=0.001)
    assert ended.status == "answered"
    assert (ended.talk, ended.duration) == pytest.approx((52.003, 60.111), abs=0.001)
    facts = fold(events)
    assert (facts.state, facts.status) == ("ended", "answered")
    assert facts.talk == pytest.approx(52.003, abs=0.001)
    assert facts.wait == pytest.approx(8.108, abs=0.001)


def test_busy() -> None:
    events = play("busy.ami")
    assert [(e.kind, e.status) for e in events] == [("started", None), ("ended", "busy")]
    assert events[1].talk == 0.0
    assert fold(events).status == "busy"


def test_no_answer_from_a_ring_group_with_the_number_in_from_did() -> None:
    events = play("no_answer.ami")
    assert [(e.kind, e.status) for e in events] == [("started", None), ("ended", "missed")]
    assert events[0].called == "+74957770103"  # the trunk delivered "s"; FreePBX's FROM_DID
    assert events[1].duration == pytest.approx(30.62, abs=0.01)


def test_caller_hangs_up_while_ringing() -> None:
    events = play("caller_hangup.ami")
    assert [(e.kind, e.status) for e in events] == [("started", None), ("ended", "missed")]
    assert events[0].caller == "79265554433"


@pytest.mark.parametrize("name", ["outbound.ami", "untracked.ami"])
def test_calls_not_to_tracking_numbers_are_ignored(name: str) -> None:
    tracker = CallTracker(tracked)
    assert play(name, tracker) == []
    assert tracker.open_calls == 0  # nothing kept once the call hung up


def test_an_office_phone_calling_a_customer_is_a_call_out() -> None:
    assert play("call_out.ami") == []  # followed only when the tracker is told what is outside
    events = play("call_out.ami", CallTracker(tracked, outside=outside))
    assert [(e.kind, e.direction) for e in events] == [
        ("started", "outbound"),
        ("answered", "outbound"),
        ("ended", "outbound"),
    ]
    started, _, ended = events
    assert {e.call_id for e in events} == {"1767227700.501"}
    # dialled 8 926 …: the customer in E.164; the line the trunk showed as the caller
    assert (started.caller, started.called, started.at) == ("74951096375", "+79265554433", T0)
    assert (ended.status, ended.talk) == ("answered", pytest.approx(20.0, abs=0.01))
    facts = fold(events)
    assert (facts.direction, facts.caller, facts.called) == (
        "outbound",
        "74951096375",
        "+79265554433",
    )


def test_a_call_out_nobody_answers_is_missed() -> None:
    text = (FIXTURES / "call_out.ami").read_bytes().replace(b"ANSWER", b"NOANSWER")
    events = play_blocks(parsed(text), CallTracker(tracked, outside=outside))
    assert [(e.kind, e.status, e.direction) for e in events] == [
        ("started", None, "outbound"),
        ("ended", "missed", "outbound"),
    ]


@pytest.mark.parametrize("name", ["outbound.ami", "untracked.ami"])
def test_no_call_out_without_an_outside_number(name: str) -> None:
    """outbound.ami: an office phone calling one of the tracking numbers (a test call)."""
    tracker = CallTracker(tracked, outside=outside)
    assert play(name, tracker) == []
    assert tracker.open_calls == 0


def test_an_extension_dialled_is_no_call_out() -> None:
    text = (FIXTURES / "call_out.ami").read_bytes().replace(b"89265554433", b"102")
    assert play_blocks(parsed(text), CallTracker(tracked, outside=outside)) == []


def test_calls_in_are_unchanged_by_following_calls_out() -> None:
    for name in ("answered.ami", "busy.ami", "no_answer.ami", "recorded.ami"):
        with_out = play(name, CallTracker(tracked, outside=outside))
        assert with_out == play(name)
        assert all(e.direction is None for e in with_out)


def test_streams_interleaved_give_the_same_events() -> None:
    names = ["answered.ami", "busy.ami", "no_answer.ami", "caller_hangup.ami", "outbound.ami"]
    names += ["recorded.ami", "recorded_no_answer.ami"]
    alone = {e for name in names for e in play(name)}
    mixed = sorted(
        (float(b["Timestamp"]), i, b) for i, b in enumerate(x for n in names for x in blocks(n))
    )
    tracker = CallTracker(tracked)
    together = {e for at, _, b in mixed for e in tracker.feed(b, T0 + at - 1767225600.101)}
    assert {(e.call_id, e.kind, e.status, e.talk, e.recording_url) for e in together} == {
        (e.call_id, e.kind, e.status, e.talk, e.recording_url) for e in alone
    }
    assert sum(e.kind == "recording" for e in together) == 1


def test_a_call_already_under_way_when_listening_began_is_skipped() -> None:
    stream = blocks("answered.ami")
    tracker = CallTracker(tracked)
    assert [e for b in stream[1:] for e in tracker.feed(b, T0)] == []


def test_without_pbx_timestamps_arrival_times_count() -> None:
    tracker = CallTracker(tracked)
    events: list[CallEvent] = []
    for i, block in enumerate(blocks("answered.ami")):
        block.pop("Timestamp")
        events += tracker.feed(block, T0 + i)
    ended = events[-1]
    assert ended.talk == events[-1].at - events[1].at


def test_forgotten_calls_are_bounded() -> None:
    tracker = CallTracker(tracked, max_calls=100)
    newchannel = blocks("untracked.ami")[0]
    for i in range(1000):
        tracker.feed({**newchannel, "Uniqueid": f"1.{i}", "Linkedid": f"1.{i}"}, T0 + i)
    assert tracker.open_calls <= 100


RECORDED = FIXTURES / "recorded.ami"
MIXMONITOR_VALUE = re.compile(rb"(?<=Variable: MIXMONITOR_FILENAME\r\nValue: )[^\r\n]*")
FIRST_PATH = (
    "/var/spool/asterisk/monitor/2026/01/01/"
    "in-74957770102-79037778899-20260101-011000-1767229800.801.wav"
)


def with_mixmonitor_values(value: bytes) -> list[ami.Block]:
    """recorded.ami with every MIXMONITOR_FILENAME value replaced, as the PBX would send it."""
    text, found = MIXMONITOR_VALUE.subn(lambda _: value, RECORDED.read_bytes())
    assert found == 2
    return parsed(text)


def test_answered_call_recorded_by_mixmonitor_gets_one_file_reference() -> None:
    events = play("recorded.ami")
    assert [e.kind for e in events] == ["started", "answered", "recording", "ended"]
    recording = events[2]
    assert recording.call_id == "1767229800.801"
    assert recording.recording_url == "file://" + FIRST_PATH  # the caller's leg said it first
    assert recording.at == events[1].at  # set before the answer: told when it came
    assert events[3].status == "answered" and events[3].recording_url is None
    facts = fold(events)
    assert facts.recording_url == "file://" + FIRST_PATH
    assert (facts.state, facts.status) == ("ended", "answered")


def test_repeated_mixmonitor_filenames_give_one_event_and_the_first_wins() -> None:
    stream = blocks("recorded.ami")
    varsets = [b for b in stream if b.get("Variable") == "MIXMONITOR_FILENAME"]
    assert len(varsets) == 2 and varsets[0]["Value"] != varsets[1]["Value"]
    answered_at = next(i for i, b in enumerate(stream) if b.get("DialStatus") == "ANSWER")
    # both paths also said again before the answer: still one event, the first path
    twice = stream[:answered_at] + varsets + stream[answered_at:]
    events = play_blocks(twice)
    recordings = [e for e in events if e.kind == "recording"]
    assert [e.recording_url for e in recordings] == ["file://" + FIRST_PATH]


def test_a_path_reported_after_the_answer_is_told_then() -> None:
    stream = blocks("recorded.ami")
    early = next(i for i, b in enumerate(stream) if b.get("Variable") == "MIXMONITOR_FILENAME")
    events = play_blocks(stream[:early] + stream[early + 1 :])
    recording = next(e for e in events if e.kind == "recording")
    assert recording.recording_url is not None
    assert recording.recording_url.endswith(
        "/exten-101-79037778899-20260101-011008-1767229800.802.wav"
    )
    assert recording.at > events[1].at  # after the answer, when the callee's leg said it


def test_unanswered_call_gets_no_recording() -> None:
    stream = blocks("recorded_no_answer.ami")
    assert any(b.get("Variable") == "MIXMONITOR_FILENAME" for b in stream)
    events = play_blocks(stream)
    assert [(e.kind, e.status) for e in events] == [("started", None), ("ended", "missed")]
    assert fold(events).recording_url is None


def test_the_path_is_percent_encoded() -> None:
    value = "/var/spool/asterisk/monitor/Отдел продаж/a#1?%.wav".encode()
    events = play_blocks(with_mixmonitor_values(value))
    url = next(e.recording_url for e in events if e.kind == "recording")
    assert url == (
        "file:///var/spool/asterisk/monitor/"
        "%D0%9E%D1%82%D0%B4%D0%B5%D0%BB%20%D0%BF%D1%80%D0%BE%D0%B4%D0%B0%D0%B6/a%231%3F%25.wav"
    )


@pytest.mark.parametrize(
    "value",
    [
        b"2026/01/01/in-74957770102-79037778899.wav",  # relative: MixMonitor never says so
        b"in-74957770102-79037778899-20260101-011000-1767229800.801",  # CALLFILENAME's kind
        b"",
        b"/var/spool/asterisk/monitor/a\x00b.wav",
        b"/var/spool/asterisk/monitor/a\rb.wav",
        b"/var/spool/asterisk/monitor/",
        b"/var/spool/asterisk/monitor/../../../etc/passwd",
        b"//fileserver/share/a.wav",
        b"/" + b"a" * 2500 + b".wav",
        b"<script>alert(1)</script>",
    ],
)
def test_junk_paths_give_no_recording(value: bytes) -> None:
    events = play_blocks(with_mixmonitor_values(value))
    assert [e.kind for e in events] == ["started", "answered", "ended"]


def test_callfilename_alone_is_not_a_reference() -> None:
    text = RECORDED.read_bytes().replace(b"MIXMONITOR_FILENAME", b"OTHER_VARIABLE")
    stream = parsed(text)
    assert any(b.get("Variable") == "CALLFILENAME" for b in stream)
    assert [e.kind for e in play_blocks(stream)] == ["started", "answered", "ended"]
