"""The traffic generator: deterministic, well-formed, and shaped as docs/traffic-model.md says."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services.enrich import parse_user_agent
from callpath.sim import trace
from callpath.sim.generator import generate
from callpath.sim.trace import Event, Header

BOT_UA = re.compile(r"bot\b|HeadlessChrome|YandexDirect", re.IGNORECASE)
VISITS, DAYS = 2000.0, 5.0


@pytest.fixture(scope="module")
def generated() -> tuple[Header, list[Event]]:
    return generate(VISITS, DAYS, seed=11)


@pytest.fixture(scope="module")
def events(generated: tuple[Header, list[Event]]) -> list[Event]:
    return generated[1]


@pytest.fixture(scope="module")
def by_session(events: list[Event]) -> dict[str, list[Event]]:
    sessions: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        if event.type != "call":
            sessions[event.session].append(event)
    return sessions


@pytest.fixture(scope="module")
def calls(events: list[Event]) -> list[Event]:
    return [e for e in events if e.type == "call"]


def _bots(by_session: dict[str, list[Event]]) -> set[str]:
    return {s for s, evs in by_session.items() if BOT_UA.search(evs[0].ua or "")}


def _last_pageview_before(session: list[Event], t: float) -> float:
    return max(e.t for e in session if e.type == "pageview" and e.t <= t)


def test_same_seed_same_trace_and_other_seeds_differ() -> None:
    first = generate(300, 2, seed=5)
    assert generate(300, 2, seed=5) == first
    other = generate(300, 2, seed=6)
    assert other[0] == first[0]
    assert other[1] != first[1]


def test_header_carries_the_arguments() -> None:
    header, _ = generate(50, 1, seed=1, start="2026-04-01T06:00:00Z", site="x", timezone="UTC")
    assert header == Header(start="2026-04-01T06:00:00Z", timezone="UTC", site="x")


def test_events_are_sorted_by_time(events: list[Event]) -> None:
    times = [e.t for e in events]
    assert times == sorted(times)
    assert times[0] >= 0 and times[-1] < DAYS * 86_400


def test_every_session_starts_with_a_pageview_of_a_visitor(
    by_session: dict[str, list[Event]],
) -> None:
    for session in by_session.values():
        first = session[0]
        assert first.type == "pageview"
        assert first.visitor and first.ua and first.ip
        assert first.url and first.url.startswith("https://shop.example/")
    pageviews = [e for s in by_session.values() for e in s if e.type == "pageview"]
    assert all(e.visitor and e.url for e in pageviews)


def test_nothing_happens_in_a_session_after_close(by_session: dict[str, list[Event]]) -> None:
    bots, closed = _bots(by_session), 0
    for name, session in by_session.items():
        kinds = [e.type for e in session]
        if "close" in kinds:
            closed += name not in bots
            assert kinds.index("close") == len(kinds) - 1, kinds
    share = closed / (len(by_session) - len(bots))
    assert 0.5 < share < 0.8  # most tabs are closed, some are left open


def test_calls_belong_to_sessions_and_follow_their_first_pageview(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    assert calls
    assert len({c.call for c in calls}) == len(calls)
    for call in calls:
        assert call.session in by_session
        assert call.t >= by_session[call.session][0].t
        assert call.caller and re.fullmatch(r"\+79\d{9}", call.caller)


def test_volume_follows_visits_per_day(by_session: dict[str, list[Event]]) -> None:
    assert abs(len(by_session) - VISITS * DAYS) <= 0.15 * VISITS * DAYS
    _, small = generate(400, 2, seed=3)
    starts = {e.session for e in small if e.type == "pageview"}
    assert abs(len(starts) - 800) <= 0.15 * 800


def test_a_few_per_cent_of_human_sessions_call(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    humans = len(by_session) - len(_bots(by_session))
    first_calls = len({c.caller for c in calls})
    assert 0.01 < first_calls / humans < 0.06


def test_delay_mix_most_within_15_minutes_some_after_a_day(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    delays = [c.t - by_session[c.session][0].t for c in calls]
    within = sum(1 for d in delays if d <= 15 * 60) / len(delays)
    assert within > 0.6
    assert any(15 * 60 < d <= 30 * 60 for d in delays)
    assert any(30 * 60 < d <= 86_400 for d in delays)
    assert any(d > 86_400 for d in delays)


def test_late_calls_are_a_tail_not_the_rule(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    """Calls over 30 min after the session's last pageview: the naive policy's loss (~4-8%)."""
    late = sum(
        1 for c in calls if c.t - _last_pageview_before(by_session[c.session], c.t) > 30 * 60
    )
    assert 0.03 < late / len(calls) < 0.15


def test_taps_are_followed_by_a_call_within_seconds(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    call_times: dict[str, list[float]] = defaultdict(list)
    for call in calls:
        call_times[call.session].append(call.t)
    taps = [e for s in by_session.values() for e in s if e.type == "tap"]
    for tap in taps:
        assert any(0 <= t - tap.t <= 300 for t in call_times[tap.session])
    tapped = {tap.session for tap in taps}
    assert sum(1 for c in calls if c.session in tapped) > 0.3 * len(calls)  # mostly phones


def test_returning_visitors_come_back_in_new_sessions(
    by_session: dict[str, list[Event]],
) -> None:
    sessions_of: dict[str, list[float]] = defaultdict(list)
    for session in by_session.values():
        sessions_of[session[0].visitor or ""].append(session[0].t)
    returning = [sorted(times) for times in sessions_of.values() if len(times) > 1]
    assert len(returning) > 0.05 * len(by_session)
    assert all(b - a >= 3600 for times in returning for a, b in pairwise(times))


def test_repeat_callers_exist(calls: list[Event]) -> None:
    per_caller = Counter(c.caller for c in calls)
    assert sum(1 for n in per_caller.values() if n > 1) >= 5
    redials = Counter((c.caller, c.session) for c in calls)  # the same number again
    assert sum(1 for n in redials.values() if n > 1) >= 3


def test_bots_exist_and_never_tap_or_call(
    by_session: dict[str, list[Event]], calls: list[Event]
) -> None:
    bots = _bots(by_session)
    assert 0.02 < len(bots) / len(by_session) < 0.12
    assert all(parse_user_agent(by_session[s][0].ua or "").device == "bot" for s in bots)
    assert not bots & {c.session for c in calls}
    assert not any(e.type in ("tap", "hidden", "visible") for s in bots for e in by_session[s])


def test_mobile_majority_and_channel_mix(by_session: dict[str, list[Event]]) -> None:
    bots = _bots(by_session)
    firsts = [s[0] for sid, s in by_session.items() if sid not in bots]
    devices = Counter(parse_user_agent(e.ua or "").device for e in firsts[:2000])
    assert devices["mobile"] > devices["desktop"] > 0
    urls = " ".join(e.url or "" for e in firsts)
    for marker in ("yclid=", "gclid=", "utm_source=vk", "utm_source=telegram"):
        assert marker in urls
    referrers = Counter(e.referrer for e in firsts)
    assert referrers["https://yandex.ru/"] > referrers["https://www.google.com/"] > 0
    assert referrers[None] > 0  # direct


def test_diurnal_profile_nights_are_quiet(
    generated: tuple[Header, list[Event]], by_session: dict[str, list[Event]]
) -> None:
    header = generated[0]
    start = datetime.fromisoformat(header.start.replace("Z", "+00:00")).astimezone(UTC)
    zone = ZoneInfo(header.timezone)
    hours = Counter(
        (start + timedelta(seconds=s[0].t)).astimezone(zone).hour for s in by_session.values()
    )
    night = sum(hours[h] for h in range(2, 6))
    day = sum(hours[h] for h in range(12, 16))
    assert day > 4 * night > 0


def test_the_trace_reads_back_as_written(generated: tuple[Header, list[Event]]) -> None:
    header, events = generated
    buffer = io.StringIO()
    assert trace.write(buffer, header, events) == len(events)
    read_header, read_events = trace.read(io.StringIO(buffer.getvalue()))
    assert read_header == header
    assert list(read_events) == events


def test_bad_arguments_are_refused() -> None:
    for visits, days in ((0, 1), (-5, 1), (10, 0), (10, float("nan"))):
        with pytest.raises(ValueError):
            generate(visits, days, seed=1)
    with pytest.raises(ValueError, match="ISO-8601"):
        generate(10, 1, seed=1, start="yesterday")
    with pytest.raises(ValueError, match="timezone"):
        generate(10, 1, seed=1, timezone="Mars/Olympus")


def test_progress_is_reported_to_the_end() -> None:
    seen: list[tuple[int, int]] = []
    generate(3000, 1, seed=2, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 2000
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cli_gen_writes_the_trace_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "trace.jsonl"
    args = ["bench", "gen", "--visits-per-day", "200", "--days", "1", "--seed", "4"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        header, read = trace.read(handle)
        assert list(read) == generate(200, 1, seed=4)[1]
    assert header.start == "2026-03-02T00:00:00Z"


def test_cli_gen_keeps_stdout_for_the_trace() -> None:
    args = ["bench", "gen", "--visits-per-day", "100", "--days", "0.5", "--seed", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    header, read = trace.read(io.StringIO(result.stdout))
    assert header.site == "demo" and len(list(read)) > 50


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--visits-per-day", "0", "--visits-per-day must be more than 0"),
        ("--days", "-1", "--days must be more than 0"),
        ("--start", "soon", "ISO-8601"),
    ],
)
def test_cli_gen_refuses_bad_values_with_exit_2(option: str, value: str, message: str) -> None:
    base = {"--visits-per-day": "100", "--days": "1", "--seed": "1"}
    args = ["bench", "gen"]
    for name, default in {**base, option: value}.items():
        args += [name, default]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stdout == ""
