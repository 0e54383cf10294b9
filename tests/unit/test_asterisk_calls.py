"""Recorded AMI streams → the call events of calls to tracking numbers."""

from __future__ import annotations

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


def blocks(name: str) -> list[ami.Block]:
    return ami.BlockParser().feed((FIXTURES / name).read_bytes())


def play(name: str, tracker: CallTracker | None = None) -> list[CallEvent]:
    """Feed a stream as it arrived: our clock follows the PBX's timestamps, shifted."""
    tracker = tracker or CallTracker(tracked)
    stream = blocks(name)
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


def test_streams_interleaved_give_the_same_events() -> None:
    names = ["answered.ami", "busy.ami", "no_answer.ami", "caller_hangup.ami", "outbound.ami"]
    alone = {e for name in names for e in play(name)}
    mixed = sorted(
        (float(b["Timestamp"]), i, b) for i, b in enumerate(x for n in names for x in blocks(n))
    )
    tracker = CallTracker(tracked)
    together = {e for at, _, b in mixed for e in tracker.feed(b, T0 + at - 1767225600.101)}
    assert {(e.call_id, e.kind, e.status, e.talk) for e in together} == {
        (e.call_id, e.kind, e.status, e.talk) for e in alone
    }


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
