"""Replay a trace through the real services on a real SQLite store, on a virtual clock.

The store is a freshly migrated database copied into memory (TRACE.md allows `:memory:`):
the same SQL and schema as on disk, without file I/O, which made replay half as fast on
a busy machine.

The snippet's side is played as tracker.js speaks the protocol: a session start per page
load (a further page of a session continues it), a ping every `ping_interval` while the
tab is visible and one when it becomes visible again, a leave beacon on pagehide (every
navigation and the close), a `tel_click` on a tap. Nothing is sent on `hidden`: the
shipped snippet keeps the number while the visitor dials. The `naive` reference snippet
reports page loads only. Calls go through the same store-and-apply code as the webhook;
the matcher never sees the trace's `session`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from callpath.domain.calls import CallEvent
from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig
from callpath.services import accounts, calls, setup, tracking
from callpath.services.calls import Integration
from callpath.sim.score import CallResult
from callpath.sim.trace import Event, Header, start_epoch
from callpath.storage import call_repo, session_repo, site_repo
from callpath.storage.db import memory_copy, transaction
from callpath.storage.migrate import upgrade
from callpath.storage.site_repo import load_site_config


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    site_policy: str  # what the site is set to: "standard" or "naive"
    pool: PoolSettings
    snippet: bool  # pings, leave beacons and tel clicks, as tracker.js sends them
    match_window: int = 172_800
    # Sub-pools: (group rule, share of the pool); the rest of the pool stays ungrouped.
    groups: tuple[tuple[str, float], ...] = ()


POLICIES: dict[str, Policy] = {
    "naive": Policy(
        "naive", "naive", PoolSettings(hold_after_leave=1800, cooldown=0), snippet=False
    ),
    "ours": Policy("ours", "standard", PoolSettings(), snippet=True),  # the product defaults
    # The product with 30% of the pool kept for the largest channel (traffic_model.CHANNELS).
    "ours+groups": Policy(
        "ours+groups", "standard", PoolSettings(), snippet=True, groups=(("yandex/cpc", 0.3),)
    ),
}
DEFAULT_NUMBER = "+74950000000"
RANDOM_SEED = 1


def pool_number(i: int) -> str:
    return f"+7495{1_000_000 + i:07d}"


@dataclass(slots=True)
class _Tab:
    """One trace session as the snippet in its tab knows it."""

    ours: str
    visitor: str
    started: float
    shown: str | None
    visible: bool = True
    closed: bool = False
    active: float = 0.0  # last sign of a person: page load, coming back, tap
    timer: int = 0  # the running ping timer's number; 0: none runs


@dataclass(slots=True)
class _World:
    engine: Engine
    site: SiteConfig
    integration: Integration
    clock: _Clock
    tabs: dict[str, _Tab] = field(default_factory=dict)
    visitors: dict[str, str] = field(default_factory=dict)  # trace visitor -> ours
    ours_to_trace: dict[str, str] = field(default_factory=dict)  # our session -> trace's
    timers: int = 0
    callers: set[str] = field(default_factory=set)


class _Clock:
    def __init__(self, base: float) -> None:
        self.base = base
        self.t = 0.0

    def __call__(self) -> float:
        return self.base + self.t


def replay(
    header: Header,
    events: Iterable[Event],
    pool_size: int,
    policy: Policy,
    workdir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[CallResult]:
    """Play every event; one result per call, in trace order."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        world = _setup(header, pool_size, policy, Path(tmp) / "replay.sqlite3")
        try:
            results = list(_play(world, policy, events, progress))
            _label_channels(world, results)
        finally:
            world.engine.dispose()
    return results


def _setup(header: Header, pool_size: int, policy: Policy, path: Path) -> _World:
    upgrade(f"sqlite:///{path}")
    engine = memory_copy(path, _fast_sqlite)  # a fifth faster than on the file
    base = start_epoch(header.start)
    with transaction(engine) as conn:
        account = accounts.create_account(conn, "Replay", base)
        site = setup.create_site(
            conn,
            account,
            setup.SiteInput(
                name=header.site,
                timezone=header.timezone,
                default_destination="+74951096375",
                pool=policy.pool,
                match_window=policy.match_window,
                policy=policy.site_policy,
            ),
            base,
            key=header.site[:32] or "trace",
        )
        site_id = int(site["id"])
        _numbers(conn, account, site_id, pool_size, base, policy.groups)
        made = setup.create_integration(conn, account, site_id, "generic", "replay", base)
        integ_row = call_repo.integration(conn, made.id)
        config = load_site_config(conn, site_id=site_id)
    assert config is not None and integ_row is not None
    return _World(engine, config, Integration.from_row(integ_row), _Clock(base))


def _fast_sqlite(dbapi_conn: Any, _record: Any) -> None:
    # SQLite's random() cannot be seeded; the `naive` reference picks numbers with it, so a
    # seeded one makes a replay repeatable (the same trace gives the same figures).
    draw = random.Random(RANDOM_SEED).getrandbits
    dbapi_conn.create_function("random", 0, lambda: draw(63))


def _numbers(
    conn: Any,
    account: int,
    site_id: int,
    pool_size: int,
    now: float,
    groups: tuple[tuple[str, float], ...] = (),
) -> None:
    """The default number, then the pool in one multi-row insert (a large site's pool
    has thousands of numbers; one at a time, seeding took longer than the replay)."""
    setup.add_number(conn, account, site_id, setup.NumberInput(DEFAULT_NUMBER, "default"), now)
    group_of = _group_of(pool_size, groups)
    if pool_size:
        rows = [
            {
                "account_id": account,
                "site_id": site_id,
                "e164": pool_number(i),
                "kind": "pool",
                "active": True,
                "created_at": now,
                "pool_group": group_of[i] if i < len(group_of) else None,
            }
            for i in range(pool_size)
        ]
        site_repo.insert_numbers(conn, rows)


def _group_of(pool_size: int, groups: tuple[tuple[str, float], ...]) -> list[str]:
    """The group of each of the first pool numbers (at least one per group); the rest none."""
    out: list[str] = []
    for rule, share in groups:
        out += [rule] * max(1, round(pool_size * share))
    return out[:pool_size]


def _play(
    world: _World,
    policy: Policy,
    events: Iterable[Event],
    progress: Callable[[int], None] | None,
) -> Iterator[CallResult]:
    timers: list[tuple[float, int, str]] = []  # (due, timer number, trace session)
    for count, ev in enumerate(events, start=1):
        while timers and timers[0][0] <= ev.t:
            due, timer, session = heapq.heappop(timers)
            if _tick(world, session, timer, due):
                heapq.heappush(timers, (due + world.site.pool.ping_interval, timer, session))
        world.clock.t = ev.t
        result = _apply(world, policy, ev)
        tab = world.tabs.get(ev.session)
        if policy.snippet and tab and not tab.closed and ev.type in _ACTIVITY:
            tab.active = ev.t
            if not tab.timer:  # tracker.js's interval runs on; it pings again now
                world.timers += 1
                tab.timer = world.timers
                heapq.heappush(
                    timers, (ev.t + world.site.pool.ping_interval, tab.timer, ev.session)
                )
        if result is not None:
            yield result
        if progress is not None and count % 1000 == 0:
            progress(1000)


_ACTIVITY = ("pageview", "visible", "tap")


def _tick(world: _World, session: str, timer: int, due: float) -> bool:
    """A ping timer fired: ping if the tab is visible and a person was there lately.
    False: the timer stops (tab closed, or idle past the limit)."""
    tab = world.tabs.get(session)
    if tab is None or tab.closed or tab.timer != timer:
        return False
    if due - tab.active >= world.site.pool.session_timeout:
        tab.timer = 0
        return False
    if tab.visible:
        world.clock.t = due
        _ping(world, tab)
    return True


def _ping(world: _World, tab: _Tab) -> None:
    site = world.site
    got = tracking.ping(world.engine, lambda _id: site, tab.ours, world.clock)
    if got is not None:
        tab.shown = got.number


def _apply(world: _World, policy: Policy, ev: Event) -> CallResult | None:
    if ev.type == "pageview":
        _pageview(world, policy, ev)
    elif ev.type == "call":
        return _call(world, ev)
    tab = world.tabs.get(ev.session)
    if tab is None or tab.closed:
        return None
    if ev.type == "hidden":
        tab.visible = False
    elif ev.type == "visible":
        tab.visible = True
        if policy.snippet:
            _ping(world, tab)
    elif ev.type == "close":
        tab.closed = True
        if policy.snippet:
            _leave(world, tab)
    elif ev.type == "tap" and policy.snippet:
        site = world.site
        tracking.record_event(world.engine, lambda _id: site, tab.ours, "tel_click", world.clock)
    return None


def _leave(world: _World, tab: _Tab) -> None:
    site = world.site
    tracking.leave(world.engine, lambda _id: site, tab.ours, world.clock)


def _pageview(world: _World, policy: Policy, ev: Event) -> None:
    tab = world.tabs.get(ev.session)
    if tab is not None and tab.closed:
        return
    if tab is not None and policy.snippet:
        _leave(world, tab)  # pagehide of the page before
    visit = tracking.Visit(
        url=ev.url or "https://shop.example/",
        referrer=ev.referrer,
        visitor=world.visitors.get(ev.visitor or ""),
        session=tab.ours if tab else None,
        user_agent=ev.ua,
        ip=ev.ip,
    )
    got = tracking.start_session(world.engine, world.site, visit, world.clock)
    world.visitors[ev.visitor or ""] = got.visitor
    world.ours_to_trace[got.session] = ev.session  # a page with campaign tags: a new one
    if tab is None:
        tab = _Tab(got.session, ev.visitor or "", ev.t, got.number)
        world.tabs[ev.session] = tab
    tab.ours, tab.shown, tab.visible = got.session, got.number, True


def _call(world: _World, ev: Event) -> CallResult:
    tab = world.tabs.get(ev.session)
    dialed = ev.dialed or (tab.shown if tab else None) or DEFAULT_NUMBER
    repeat = bool(ev.caller) and ev.caller in world.callers
    if ev.caller:
        world.callers.add(ev.caller)
    now = world.clock()
    raw = json.dumps(
        {"event": "started", "call_id": ev.call, "at": now, "caller": ev.caller, "called": dialed}
    ).encode()
    started = CallEvent("started", ev.call or "", now, caller=ev.caller, called=dialed)
    dedup = hashlib.sha256(raw).hexdigest()
    item = calls.received(world.integration, started, dedup, raw, now)
    with transaction(world.engine) as conn:
        calls.store(conn, item)
    calls.apply(world.engine, item.call_key, world.clock)
    with world.engine.connect() as conn:
        row = call_repo.call_by_key(conn, item.call_key)
    assert row is not None  # stored and folded just above
    return CallResult(
        call=ev.call or "",
        truth=ev.session,
        truth_visitor=tab.visitor if tab else None,
        truth_ours=tab.ours if tab else None,
        predicted_ours=row["session_id"],
        predicted_visitor_ours=row["visitor_id"],
        confidence=float(row["confidence"]),
        method=str(row["match_method"]),
        delay=ev.t - tab.started if tab else 0.0,
        covered=bool(tab and dialed != DEFAULT_NUMBER and dialed == tab.shown),
        repeat=repeat,
        # A call matched to no session may still know its channel (a sub-pool's number).
        predicted_channel=(
            (row["source"], row["medium"]) if row["source"] and not row["session_id"] else None
        ),
    )


def _label_channels(world: _World, results: list[CallResult]) -> None:
    """Map our ids back to the trace's, and fetch channels for channel-level agreement."""
    ours_to_trace = world.ours_to_trace
    visitor_to_trace = {ours: trace for trace, ours in world.visitors.items()}
    with world.engine.connect() as conn:
        channel = session_repo.channels(conn)
    for r in results:
        r.predicted = ours_to_trace.get(r.predicted_ours or "")
        r.predicted_visitor = visitor_to_trace.get(r.predicted_visitor_ours or "")
        r.truth_channel = channel.get(r.truth_ours or "")
        r.predicted_channel = channel.get(r.predicted_ours or "", r.predicted_channel)
