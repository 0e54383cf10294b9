"""Matching v1: static, pool holder at ring time, recent holder, caller history, none."""

from __future__ import annotations

from callpath.domain import scoring
from callpath.domain.matching import EarlierCall, Holder, Ring, match_call

T = 1_790_000_000.0
WINDOW = 172_800.0


def ring(kind: str | None, at: float = T) -> Ring:
    return Ring(kind, at, WINDOW, 30)


def holder(session: str, start: float, until: float, last: float | None = None) -> Holder:
    return Holder(
        session, "v-" + session, T + start, T + (last if last is not None else start), T + until
    )


def test_static_number_is_its_channel() -> None:
    m = match_call(ring("static"), [], [])
    assert (m.method, m.confidence, m.session_id, m.repeat) == ("static", 1.0, None, False)


def test_pool_call_goes_to_the_holder_at_ring_time() -> None:
    holders = [holder("old", -30_000, -29_000), holder("now", -600, 300, last=-20)]
    m = match_call(ring("pool"), holders, [])
    assert (m.method, m.session_id, m.visitor_id) == ("pool", "now", "v-now")
    assert m.confidence >= scoring.THRESHOLD
    assert [a.session_id for a in m.alternatives] == ["old"]


def test_a_quiet_holder_is_less_certain_than_one_on_the_page() -> None:
    released = holder("before", -1500, -400)
    visible = match_call(ring("pool"), [holder("s", -300, 300, last=-20), released], [])
    quiet = match_call(ring("pool"), [holder("s", -300, 300, last=-250), released], [])
    assert visible.session_id == quiet.session_id == "s"
    assert quiet.confidence < visible.confidence


def test_a_recent_holder_gets_a_call_after_its_hold_ended() -> None:
    m = match_call(ring("pool"), [holder("recent", -700, -120)], [])
    assert (m.method, m.session_id) == ("fallback", "recent")
    assert m.confidence >= scoring.THRESHOLD


def test_when_two_holders_are_alike_the_call_stays_unattributed_with_both_listed() -> None:
    holders = [holder("a", -1000, -500), holder("b", -990, -480)]
    m = match_call(ring("pool"), holders, [])
    assert (m.method, m.session_id) == ("none", None)
    assert {a.session_id for a in m.alternatives} == {"a", "b"}


def test_a_tap_on_the_number_outweighs_a_fresh_holder() -> None:
    tapped = Holder("tapper", "v-tapper", T - 400, T - 200, T - 100, tapped_at=T - 60)
    fresh = holder("fresh", -30, 600, last=-5)
    m = match_call(ring("pool"), [fresh, tapped], [])
    ranked = [m.session_id] if m.session_id else [a.session_id for a in m.alternatives]
    assert ranked[0] == "tapper"
    untapped = match_call(
        ring("pool"), [fresh, Holder("tapper", "v-tapper", T - 400, T - 200, T - 100)], []
    )
    assert untapped.session_id == "fresh"


def test_confidence_falls_as_the_number_was_reused() -> None:
    alone = match_call(ring("pool"), [holder("s", -900, -60)], [])
    reused = match_call(
        ring("pool"),
        [holder("s", -900, -60), holder("t", -2000, -1000), holder("u", -800, -700)],
        [],
    )
    assert reused.confidence < alone.confidence


def test_holders_outside_the_window_are_not_candidates() -> None:
    m = match_call(ring("pool"), [holder("s", -5000, -WINDOW - 1)], [])
    assert (m.method, m.session_id, m.confidence) == ("none", None, 0.0)
    assert m.alternatives == ()


def test_default_number_is_unattributed() -> None:
    m = match_call(ring("default"), [holder("s", -60, 600)], [])
    assert (m.method, m.session_id) == ("none", None)


def test_repeat_caller_is_marked_and_linked_to_the_earlier_visitor() -> None:
    earlier = [
        EarlierCall("c1", T - 86_400, "v-first", "s-first"),
        EarlierCall("c2", T - 3_600, None, None),
    ]
    m = match_call(ring("default"), [], earlier)
    assert m.repeat is True
    assert m.first_call_id == "c1"
    assert (m.method, m.visitor_id, m.session_id) == ("caller_history", "v-first", "s-first")


def test_repeat_caller_on_a_static_number_keeps_the_static_channel() -> None:
    m = match_call(ring("static"), [], [EarlierCall("c1", T - 60, "v-1", "s-1")])
    assert (m.method, m.repeat, m.visitor_id) == ("static", True, "v-1")


def test_caller_history_agreeing_with_a_holder_strengthens_it() -> None:
    h = [holder("s", -1000, -500), holder("t", -990, -480)]
    alone = match_call(ring("pool"), h, [])
    agreed = match_call(ring("pool"), h, [EarlierCall("c1", T - 60, "v-s", "s", 0.95)])
    assert alone.method == "none"
    assert (agreed.session_id, agreed.repeat) == ("s", True)
    assert agreed.confidence >= scoring.THRESHOLD


def test_holder_on_the_page_beats_an_unsure_disagreeing_caller_history() -> None:
    earlier = [EarlierCall("c1", T - 60, "v-other", "s-other", 0.6)]
    m = match_call(ring("pool"), [holder("s", -600, 300, last=-10)], earlier)
    assert (m.method, m.session_id, m.repeat) == ("pool", "s", True)


def test_without_a_confident_holder_the_caller_history_decides() -> None:
    earlier = [EarlierCall("c1", T - 86_400, "v-first", "s-first")]
    m = match_call(ring("pool"), [holder("a", -1000, -500), holder("b", -990, -480)], earlier)
    assert (m.method, m.session_id) == ("caller_history", "s-first")


def test_a_redial_goes_to_the_visit_its_earlier_call_went_to() -> None:
    holders = [holder("first", -40_000, -39_500), holder("fresh", -3000, -2500)]
    earlier = [EarlierCall("c1", T - 39_700, "v-first", "first", 0.99, same_number=True)]
    assert match_call(ring("pool"), holders, []).session_id != "first"
    m = match_call(ring("pool"), holders, earlier)
    assert (m.method, m.session_id, m.repeat) == ("fallback", "first", True)
    assert m.confidence >= scoring.THRESHOLD


def test_a_redial_of_a_visit_no_longer_among_the_holders_competes_on_its_own() -> None:
    holders = [holder("fresh", -3000, -2500)]
    earlier = [EarlierCall("c1", T - 70_000, "v-gone", "gone", 0.99, same_number=True)]
    m = match_call(ring("pool"), holders, earlier)
    assert (m.method, m.session_id, m.visitor_id) == ("caller_history", "gone", "v-gone")
    assert [a.session_id for a in m.alternatives] == ["fresh"]


def test_a_call_to_another_number_is_history_but_not_a_redial() -> None:
    holders = [holder("first", -40_000, -39_500), holder("fresh", -3000, -2500)]
    other = [EarlierCall("c1", T - 39_700, "v-first", "first", 0.99, same_number=False)]
    same = [EarlierCall("c1", T - 39_700, "v-first", "first", 0.99, same_number=True)]
    assert (
        match_call(ring("pool"), holders, other).confidence
        < match_call(ring("pool"), holders, same).confidence
    )


def test_unknown_number_with_no_history_is_none() -> None:
    m = match_call(ring(None), [], [])
    assert (m.method, m.repeat, m.first_call_id) == ("none", False, None)
