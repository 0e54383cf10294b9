"""Visit code rules: drawing, reading what people type, lifetime, lookup, and how an entered
code folds into a call and decides its match."""

from __future__ import annotations

import itertools
import random

import pytest

from callpath.domain import visit_code
from callpath.domain.calls import CallEvent, fold
from callpath.domain.matching import (
    MAX_ALTERNATIVES,
    Candidate,
    Match,
    by_visit_code,
)
from callpath.domain.visit_code import CodeHolder, Entry, VisitClaim
from callpath.telephony.base import Ignored
from callpath.telephony.generic import adapter as generic

DAY = 86_400.0
RING = 1_800_000_000.0


def test_codes_have_the_asked_length_and_never_start_with_zero() -> None:
    rng = random.Random(7)
    for digits in (4, 5, 6):
        codes = {visit_code.draw(digits, rng.randrange) for _ in range(2_000)}
        assert all(len(c) == digits and c[0] != "0" and c.isdigit() for c in codes)
    assert visit_code.draw(4, lambda n: 0) == "1000"
    assert visit_code.draw(4, lambda n: n - 1) == "9999"
    assert visit_code.draw(6, lambda n: n - 1) == "999999"


@pytest.mark.parametrize("digits", [0, 3, 7])
def test_other_lengths_are_refused(digits: int) -> None:
    with pytest.raises(ValueError):
        visit_code.draw(digits, lambda n: 0)


def test_crowded_sites_get_longer_codes_after_a_few_collisions() -> None:
    assert visit_code.DRAWS[0] == 4
    assert list(visit_code.DRAWS) == sorted(visit_code.DRAWS)
    assert visit_code.DRAWS[-1] == 6


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("4821", "4821"),
        (" 4821 ", "4821"),
        ("48-21", "4821"),
        ("48 21", "4821"),
        ("code 4821", "4821"),
        ("Code: #4821", "4821"),
        ("(4821)", "4821"),
        ("48211", "48211"),
        ("482119", "482119"),
    ],
)
def test_what_people_type_around_a_code_is_ignored(typed: str, code: str) -> None:
    assert visit_code.normalize(typed) == code


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "code",
        "482",
        "0482",
        "1234567",
        "48a1",
        "4821; DROP TABLE calls",
        "\u0664\u0668\u0662\u0661",  # Arabic-Indic digits
        "\uff14\uff18\uff12\uff11",  # full-width digits
        "4821\x00",
        "4821" + " " * 100,  # too long to be typed as a code
        "+74951096375",
    ],
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    assert visit_code.normalize(typed) is None


def test_a_session_keeps_its_code_for_the_lifetime_after_its_last_sign_of_life() -> None:
    now = RING
    assert visit_code.keeps(now - visit_code.LIFETIME, now)
    assert not visit_code.keeps(now - visit_code.LIFETIME - 1, now)


def _holder(name: str, started: float, seen: float) -> CodeHolder:
    return CodeHolder(name, "v-" + name, started, seen)


def test_lookup_takes_the_session_seen_within_the_lifetime_before_the_ring() -> None:
    fresh = _holder("fresh", RING - 600, RING - 60)
    stale = _holder("stale", RING - 3 * DAY, RING - visit_code.LIFETIME - 1)
    assert visit_code.pick([stale, fresh], RING) == fresh
    assert visit_code.pick([stale], RING) is None
    assert visit_code.pick([], RING) is None


def test_a_session_seen_after_the_ring_still_counts_if_it_started_before() -> None:
    # the visitor kept the page open while talking: seen after the ring is fine
    talking = _holder("talking", RING - 300, RING + 900)
    assert visit_code.pick([talking], RING) == talking


def test_a_session_started_after_the_ring_counts_only_within_skew_and_alone() -> None:
    early = _holder("early", RING - 3_000, RING - 2_000)
    skewed = _holder("skewed", RING + visit_code.SKEW / 2, RING + visit_code.SKEW)
    later = _holder("later", RING + visit_code.SKEW + 1, RING + 1_000)
    assert visit_code.pick([skewed, early], RING) == early
    assert visit_code.pick([skewed], RING) == skewed
    assert visit_code.pick([later], RING) is None


def test_of_two_sessions_with_the_code_the_latest_started_before_the_ring_wins() -> None:
    older = _holder("older", RING - 5_000, RING - 100)
    newer = _holder("newer", RING - 1_000, RING - 50)
    assert visit_code.pick([older, newer], RING) == newer


def _entry(code: str, at: float, session: str = "s1") -> Entry:
    return Entry(VisitClaim(code, session, "v-" + session), "pbx-1", at, "op@shop.example")


def test_the_latest_entry_counts() -> None:
    first, second = _entry("4821", RING + 60), _entry("5937", RING + 120, "s2")
    assert visit_code.latest([second, first]) == second
    assert visit_code.latest([]) is None


def test_an_entry_survives_its_stored_form() -> None:
    entry = _entry("4821", RING + 60.5)
    assert visit_code.read_entry(visit_code.entry_body(entry)) == entry


@pytest.mark.parametrize(
    "body", ["", "null", "[]", '"x"', "{}", '{"code": "4821"}', '{"code": 1, "at": "x"}', "{"]
)
def test_a_body_that_is_not_an_entry_reads_as_none(body: str) -> None:
    assert visit_code.read_entry(body) is None


# --- folding ------------------------------------------------------------------------------


def _call_events() -> list[CallEvent]:
    return [
        CallEvent("started", "pbx-1", RING, caller="+79161234567", called="+74951112233"),
        CallEvent("answered", "pbx-1", RING + 8),
        CallEvent("ended", "pbx-1", RING + 68, talk=60.0, status="answered"),
    ]


def _code_event(code: str, session: str, at: float) -> CallEvent:
    claim = VisitClaim(code, session, "v-" + session)
    return CallEvent(visit_code.KIND, "pbx-1", at, visit=claim)


def test_an_entered_code_changes_no_time_and_no_state() -> None:
    plain = fold(_call_events())
    # entered while the phone rang, and an hour later
    for at in (RING + 2, RING + 3_600, RING - 5):
        coded = fold([*_call_events(), _code_event("4821", "s1", at)])
        assert coded.visit == VisitClaim("4821", "s1", "v-s1")
        assert (coded.state, coded.status, coded.started_at, coded.ended_at, coded.talk) == (
            plain.state,
            plain.status,
            plain.started_at,
            plain.ended_at,
            plain.talk,
        )
    assert plain.visit is None


def test_a_call_known_only_by_its_end_keeps_its_start_when_a_code_is_entered() -> None:
    ended = CallEvent("ended", "pbx-1", RING + 100, duration=100.0, talk=50.0)
    coded = fold([ended, _code_event("4821", "s1", RING - 500)])
    assert coded.started_at == RING


def test_the_latest_code_wins_whatever_order_the_events_come_in() -> None:
    events = [
        *_call_events(),
        _code_event("4821", "s1", RING + 100),
        _code_event("5937", "s2", RING + 200),
    ]
    results = {fold(list(order)) for order in itertools.permutations(events)}
    assert len(results) == 1
    assert results.pop().visit == VisitClaim("5937", "s2", "v-s2")


def test_a_pbx_cannot_send_a_visit_code_event() -> None:
    body = b'{"event": "visit_code", "call_id": "x", "code": "4821", "session_id": "s"}'
    with pytest.raises(Ignored):
        generic.parse(body)


# --- matching -----------------------------------------------------------------------------


def _found(method: str, session: str | None, alternatives: tuple[Candidate, ...] = ()) -> Match:
    confidence = 0.0 if method == "none" else 0.91
    visitor = "v-" + session if session else None
    return Match(method, confidence, session, visitor, True, "c-first", alternatives)


def test_the_coded_visit_gets_the_call_with_full_confidence() -> None:
    got = by_visit_code("4821", "s9", "v-s9", _found("none", None))
    assert (got.method, got.confidence, got.session_id, got.visitor_id) == (
        "visit_code",
        1.0,
        "s9",
        "v-s9",
    )
    assert (got.repeat, got.first_call_id) == (True, "c-first")
    assert got.alternatives == ()


def test_what_the_number_suggested_stays_as_a_runner_up() -> None:
    other = Candidate("fallback", 0.4, "s3", "v-s3", "held it earlier")
    got = by_visit_code("4821", "s9", "v-s9", _found("pool", "s2", (other,)))
    assert [(a.method, a.session_id) for a in got.alternatives] == [
        ("pool", "s2"),
        ("fallback", "s3"),
    ]
    assert got.alternatives[0].reason == "without the code"


def test_the_coded_visit_is_not_its_own_runner_up_and_runners_up_are_capped() -> None:
    same = _found("pool", "s9")
    assert by_visit_code("4821", "s9", "v-s9", same).alternatives == ()
    many = tuple(Candidate("fallback", 0.1, f"s{i}", f"v{i}", "r") for i in range(10))
    got = by_visit_code("4821", "s9", "v-s9", _found("pool", "s2", many))
    assert len(got.alternatives) == MAX_ALTERNATIVES
