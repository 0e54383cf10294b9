"""Call events fold into one call by fixed rules, whatever order they arrive in."""

from __future__ import annotations

import itertools

import pytest

from callpath.domain.calls import CallEvent, call_key, fold

T = 1_790_000_000.0


def ev(kind: str, at: float, **fields: object) -> CallEvent:
    return CallEvent(kind=kind, call_id="pbx-1", at=T + at, **fields)  # type: ignore[arg-type]


ANSWERED_CALL = [
    ev("started", 0, caller="+79161234567", called="+74951112231"),
    ev("answered", 7),
    ev("ended", 67, duration=67, talk=60, status="answered"),
    ev("recording", 80, recording_url="https://pbx.example/r/1.mp3"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_any_delivery_order_gives_the_same_call(order: tuple[int, ...]) -> None:
    facts = fold([ANSWERED_CALL[i] for i in order])
    assert facts == fold(ANSWERED_CALL)
    assert facts.state == "ended"
    assert facts.status == "answered"
    assert facts.started_at == T
    assert facts.answered_at == T + 7
    assert facts.ended_at == T + 67
    assert (facts.wait, facts.talk, facts.duration) == (7, 60, 67)
    assert facts.recording_url == "https://pbx.example/r/1.mp3"
    assert facts.caller == "+79161234567"


def test_state_only_moves_forward() -> None:
    assert fold([ev("answered", 5), ev("started", 0, called="+7")]).state == "answered"
    assert fold([ev("started", 0)]).state == "started"
    assert fold([ev("ended", 9), ev("started", 0)]).state == "ended"
    assert fold([ev("recording", 100, recording_url="https://r/1")]).state == "started"


def test_fields_fill_once_earliest_answer_latest_end() -> None:
    facts = fold(
        [
            ev("started", 0, caller="+79160000001"),
            ev("answered", 9, caller="+79160000002"),
            ev("answered", 5),
            ev("ended", 30, status="answered"),
            ev("ended", 40, status="answered"),
        ]
    )
    assert facts.caller == "+79160000001"
    assert facts.answered_at == T + 5
    assert facts.ended_at == T + 40
    assert facts.talk == 35  # from the earliest answer to the latest end


def test_ended_with_talk_time_and_no_answer_means_answered() -> None:
    facts = fold([ev("started", 0), ev("ended", 50, talk=40)])
    assert facts.status == "answered"
    assert facts.answered_at == T + 10
    assert facts.wait == 10
    # even when the PBX said otherwise, talk time is proof
    assert fold([ev("ended", 50, talk=40, status="missed")]).status == "answered"


def test_ended_without_answer_or_status_is_missed() -> None:
    facts = fold([ev("started", 0), ev("ended", 25)])
    assert facts.status == "missed"
    assert facts.answered_at is None
    assert facts.wait == 25
    assert facts.talk == 0


def test_stated_status_is_kept() -> None:
    assert fold([ev("started", 0), ev("ended", 3, status="busy")]).status == "busy"


def test_only_an_end_event_dates_the_start_from_its_duration() -> None:
    facts = fold([ev("ended", 100, duration=70, talk=50)])
    assert facts.started_at == T + 30
    assert facts.answered_at == T + 50


def test_recording_after_end_adds_the_link_only() -> None:
    ended = [ev("started", 0), ev("ended", 20, status="missed")]
    with_recording = fold([*ended, ev("recording", 300, recording_url="https://r/2")])
    assert with_recording.recording_url == "https://r/2"
    assert with_recording.ended_at == fold(ended).ended_at
    assert with_recording.status == "missed"


def test_in_progress_call_has_no_status() -> None:
    assert fold([ev("started", 0), ev("answered", 4)]).status is None


def test_call_key_is_stable_and_distinct() -> None:
    assert call_key("int_a", "1") == call_key("int_a", "1")
    assert call_key("int_a", "1") != call_key("int_b", "1")
    assert call_key("int_a", "1") != call_key("int_a", "2")
    assert len(call_key("int_a", "x" * 200)) <= 24


def test_fold_needs_an_event() -> None:
    with pytest.raises(ValueError):
        fold([])
