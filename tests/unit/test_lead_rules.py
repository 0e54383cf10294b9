"""What a call counts as (domain/leads.py), on hand-made call histories of one caller."""

from __future__ import annotations

import pytest

from callpath.domain.leads import DAY, MINUTE, Call, Rules, classify

T = 1_800_000_000.0


def call(at: float, answered: bool = True, talk: float = 60.0, length: float = 90.0) -> Call:
    return Call(f"c{at}", T + at, T + at + length, answered, talk if answered else 0.0)


def test_first_time_is_per_depth_or_ever() -> None:
    history = [call(0), call(10 * DAY), call(50 * DAY)]
    ever = classify(history, Rules(), known_caller=True)
    assert [v.first_time for v in ever] == [True, False, False]
    monthly = classify(history, Rules(unique_days=30), known_caller=True)
    assert [v.first_time for v in monthly] == [True, False, True]
    before = classify(history[:1], Rules(), known_caller=True, last_before=T - 400 * DAY)
    assert before[0].first_time is False
    hidden = classify(history, Rules(), known_caller=False)
    assert all(v.first_time for v in hidden)


def test_target_needs_talk_and_optionally_a_first_time_caller() -> None:
    history = [call(0, talk=29), call(DAY, talk=30), call(2 * DAY, talk=300)]
    assert [v.target for v in classify(history, Rules(), known_caller=True)] == [
        False,
        True,
        True,
    ]
    strict = Rules(target_first_time_only=True, target_talk=10)
    assert [v.target for v in classify(history, strict, known_caller=True)] == [
        True,
        False,
        False,
    ]


def test_a_missed_call_is_lost_unless_the_caller_gets_through_in_time() -> None:
    history = [call(0, answered=False), call(20 * MINUTE), call(3 * DAY, answered=False)]
    verdicts = classify(history, Rules(callback_minutes=60), known_caller=True)
    assert [v.missed for v in verdicts] == [True, False, True]
    assert [v.lost for v in verdicts] == [False, False, True]
    assert verdicts[0].recovered_after == 20 * MINUTE
    late = classify(history, Rules(callback_minutes=10), known_caller=True)
    assert late[0].lost is True and late[0].recovered_after is None


def out(at: float, answered: bool = True) -> Call:
    """The business calling the number back."""
    return Call(f"o{at}", T + at, T + at + 60, answered, 40.0 if answered else 0.0, outbound=True)


def test_a_missed_caller_called_back_by_the_business_is_not_lost() -> None:
    rules = Rules(callback_minutes=60)
    missed = call(0, answered=False, length=20)
    back = classify([missed, out(25 * MINUTE)], rules, known_caller=True)
    assert back[0].called_back_after == 25 * MINUTE and back[0].recovered_after is None
    assert back[0].missed and not back[0].lost
    assert back[1] == back[1].__class__(False, False, False, False, False, None, False, 0.0, None)
    unanswered = classify([missed, out(5 * MINUTE, answered=False)], rules, known_caller=True)
    assert unanswered[0].lost and unanswered[0].called_back_after is None  # nobody reached
    late = classify([missed, out(61 * MINUTE)], rules, known_caller=True)
    assert late[0].lost
    both = classify([missed, out(10 * MINUTE), call(20 * MINUTE)], rules, known_caller=True)
    assert (both[0].called_back_after, both[0].recovered_after) == (600, 1200)


def test_calls_out_count_neither_for_first_time_nor_for_spam() -> None:
    history = [out(0), out(60, answered=False), out(120, answered=False), call(DAY)]
    verdicts = classify(history, Rules(), known_caller=True)
    assert verdicts[3].first_time and not verdicts[3].spam
    silent = [call(i * 60, answered=False, length=3) for i in range(2)]
    burst = classify([*silent, out(150, answered=False)], Rules(), known_caller=True)
    assert not any(v.spam for v in burst)


def test_a_call_still_ringing_is_not_missed_yet() -> None:
    ringing = Call("c1", T, None, False, 0.0, ended=False)
    verdict = classify([ringing], Rules(), known_caller=True)[0]
    assert not verdict.missed and not verdict.lost and not verdict.target


def test_abandoned_is_missed_and_over_within_seconds() -> None:
    quick = call(0, answered=False, length=4)
    slow = call(DAY, answered=False, length=40)
    verdicts = classify([quick, slow], Rules(abandoned_seconds=5), known_caller=True)
    assert [v.abandoned for v in verdicts] == [True, False]


def test_silent_bursts_and_blocked_numbers_are_spam_with_a_reason() -> None:
    burst = [call(i * MINUTE, answered=False, length=3) for i in range(3)]
    verdicts = classify([*burst, call(DAY)], Rules(), known_caller=True)
    assert [v.spam for v in verdicts] == [True, True, True, False]
    assert verdicts[0].spam_reason == "3 calls without talk within 10 min"
    assert not any(v.lost for v in verdicts[:3])  # spam needs no callback
    two = classify(burst[:2], Rules(), known_caller=True)
    assert not two[0].spam and 0 < two[0].spam_score < 1 and two[0].spam_reason
    spread = [call(i * 20 * MINUTE, answered=False) for i in range(3)]
    assert not any(v.spam for v in classify(spread, Rules(), known_caller=True))
    blocked = classify([call(0)], Rules(), known_caller=True, blocked=True)
    assert blocked[0].spam and not blocked[0].target
    assert blocked[0].spam_reason == "the number is on the account's block list"


@pytest.mark.parametrize(
    "stored",
    [
        {"target_talk": -1},
        {"unique_days": 0},
        {"callback_minutes": True},
        {"spam_burst_calls": 1},
        {"target_first_time_only": "yes"},
        {"abandoned_seconds": 1.5},
    ],
)
def test_rules_out_of_range_are_refused(stored: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Rules.of(stored)


def test_stored_rules_keep_defaults_for_what_is_missing() -> None:
    rules = Rules.of({"target_talk": 45, "unknown": 1})
    assert rules.target_talk == 45 and rules.callback_minutes == Rules().callback_minutes
    assert Rules.of(rules.as_dict()) == rules
