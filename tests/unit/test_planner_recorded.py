"""Recorded sessions as a trace, and the calls drawn over them."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from callpath.planner.overlay import Human, draw_calls
from callpath.planner.recorded import to_trace
from callpath.sim import trace

BASE = 1_800_000_000.0
MOSCOW = ZoneInfo("Europe/Moscow")
ADS = "https://shop.example/?utm_source=yandex&utm_medium=cpc"


def _session(n: int, start: float, **more: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"id{n}",
        "visitor_id": f"visitor{n}",
        "started_at": start,
        "last_seen_at": start + 90,
        "left_at": None,
        "landing_url": ADS,
        "referrer": "https://yandex.ru/",
        "user_agent": "Mozilla/5.0 (iPhone)",
        "device": "mobile",
    }
    row.update(more)
    return row


def test_a_session_becomes_its_pages_taps_and_a_close_at_its_last_sign_of_life() -> None:
    rows = [_session(1, BASE + 100, left_at=BASE + 200)]
    pages = [
        {"session_id": "id1", "at": BASE + 100, "url": ADS},
        {"session_id": "id1", "at": BASE + 150, "url": "https://shop.example/menu"},
    ]
    taps = [{"session_id": "id1", "at": BASE + 160}]
    got = to_trace(rows, pages, taps, begin=BASE, end=BASE + 3600, site="k", timezone="UTC", seed=1)
    own = [(e.t, e.type, e.url) for e in got.events if e.type != "call"]
    assert own == [
        (100.0, "pageview", ADS),
        (150.0, "pageview", "https://shop.example/menu"),
        (160.0, "tap", None),
        (200.0, "close", None),
    ]
    first = got.events[0]
    assert (first.visitor, first.referrer, first.ua) == (
        "v1",
        "https://yandex.ru/",
        "Mozilla/5.0 (iPhone)",
    )
    assert got.visits[0].start == BASE + 100 and got.visits[0].end == BASE + 200
    assert got.header.start == "2027-01-15T08:00:00Z"


def test_the_trace_is_valid_and_sorted_and_the_same_for_the_same_seed() -> None:
    rows = [_session(i, BASE + 60.0 * i) for i in range(1, 800)]
    made = [
        to_trace(rows, [], [], begin=BASE, end=BASE + 7 * 86_400, site="k", timezone="UTC", seed=s)
        for s in (1, 1, 2)
    ]
    assert made[0].events == made[1].events != made[2].events
    out = io.StringIO()
    trace.write(out, made[0].header, made[0].events)
    header, events = trace.read(out.getvalue().splitlines())
    assert header == made[0].header
    loaded = list(events)  # read checks the order and every field
    assert len(loaded) == len(made[0].events)
    assert made[0].calls == sum(1 for e in loaded if e.type == "call") > 0
    sessions = {e.session for e in loaded if e.type == "pageview"}
    assert all(e.session in sessions for e in loaded if e.type == "call")


def test_calls_follow_the_traffic_model_rates() -> None:
    humans = [
        Human(f"s{i}", f"v{i}", "mobile", i * 30.0, i * 30.0 + 60, False) for i in range(20_000)
    ]
    calls = draw_calls(humans, 400 * 86_400.0, BASE, MOSCOW)
    callers = {e.caller for e in calls}
    # 3.2% of mobile sessions call; 10% of callers call again (30% of those once more).
    assert 0.028 < len(callers) / len(humans) < 0.036
    assert 1.08 < len(calls) / len(callers) < 1.20
    soon = sum(1 for e in calls if e.t - int(e.session[1:]) * 30.0 < 1_800)
    assert soon / len(calls) > 0.85  # most calls come within 30 minutes


def test_a_late_call_belongs_to_the_visitors_latest_session() -> None:
    # One visitor, a session a day for 30 days: a call goes to the session seen last
    # before it, unless it redials the number of an earlier call (a follow-up).
    humans = [
        Human(f"s{d}", "v1", "mobile", d * 86_400.0, d * 86_400.0 + 60, False) for d in range(30)
    ]
    starts = {h.session: h.start for h in humans}
    checked = 0
    for seed in range(200):
        calls = draw_calls(humans, 31 * 86_400.0, BASE, ZoneInfo("UTC"), seed=seed)
        for i, e in enumerate(calls):
            newer = [h for h in humans if starts[e.session] < h.start <= e.t]
            redial = any(c.session == e.session for c in calls[:i])
            assert not newer or redial, (seed, e)
            checked += bool(newer)
    assert checked > 0


def test_generated_traffic_does_not_depend_on_the_hour_it_is_planned() -> None:
    from callpath.planner import run

    monday = run._monday(1_795_000_000.0)  # a Wednesday, 11:06 UTC
    assert (monday.weekday(), monday.hour, monday.minute) == (0, 0, 0)
    assert run._monday(1_795_000_000.0 + 5 * 3600) == monday
    assert 0 <= 1_795_000_000.0 - monday.timestamp() < 7 * 86_400
