"""Matching v1: static, pool holder at ring time, recent holder, caller history, none."""

from __future__ import annotations

from callpath.domain.matching import EarlierCall, Holder, Ring, match_call

T = 1_790_000_000.0
WINDOW = 1800.0


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
    holders = [holder("old", -3000, -2000), holder("now", -600, 300, last=-20)]
    m = match_call(ring("pool"), holders, [])
    assert (m.method, m.session_id, m.visitor_id) == ("pool", "now", "v-now")
    assert m.confidence >= 0.95


def test_a_holder_not_seen_for_a_while_is_less_certain() -> None:
    visible = match_call(ring("pool"), [holder("s", -600, 300, last=-20)], [])
    hidden = match_call(ring("pool"), [holder("s", -600, 300, last=-500)], [])
    assert hidden.method == "pool"
    assert hidden.confidence < visible.confidence


def test_after_release_the_most_recent_holder_within_the_window_with_less_confidence() -> None:
    holders = [holder("earlier", -1500, -1200), holder("recent", -900, -300)]
    m = match_call(ring("pool"), holders, [])
    assert (m.method, m.session_id) == ("fallback", "recent")
    assert m.confidence < 0.9
    assert [a.session_id for a in m.alternatives] == ["earlier"]
    assert m.alternatives[0].confidence < m.confidence


def test_confidence_falls_as_the_gap_grows() -> None:
    near = match_call(ring("pool"), [holder("s", -900, -60)], [])
    far = match_call(ring("pool"), [holder("s", -3000, -1700)], [])
    assert near.confidence > far.confidence > 0


def test_holders_outside_the_window_are_not_candidates() -> None:
    m = match_call(ring("pool"), [holder("s", -5000, -WINDOW - 1)], [])
    assert (m.method, m.session_id, m.confidence) == ("none", None, 0.0)


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


def test_caller_history_agreeing_with_the_holder_strengthens_it() -> None:
    h = [holder("s", -600, 300, last=-500)]
    alone = match_call(ring("pool"), h, [])
    agreed = match_call(ring("pool"), h, [EarlierCall("c1", T - 60, "v-s", "s")])
    assert agreed.session_id == "s"
    assert agreed.confidence > alone.confidence
    assert agreed.alternatives == ()


def test_holder_at_ring_time_beats_a_disagreeing_caller_history() -> None:
    earlier = [EarlierCall("c1", T - 60, "v-other", "s-other")]
    m = match_call(ring("pool"), [holder("s", -600, 300, last=-10)], earlier)
    assert (m.method, m.session_id) == ("pool", "s")
    assert [a.method for a in m.alternatives] == ["caller_history"]
    assert m.repeat is True


def test_unknown_number_with_no_history_is_none() -> None:
    m = match_call(ring(None), [], [])
    assert (m.method, m.repeat, m.first_call_id) == ("none", False, None)
