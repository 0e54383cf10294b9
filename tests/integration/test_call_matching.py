"""Calls matched to visits through the real services and database, on a virtual clock:
the tracker holds numbers, signed events arrive, the call row says who made it ring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callpath.domain.pool import PoolSettings
from callpath.services import tracking
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import calls
from tests.helpers import Clock, Hook, Seeded, add_hook, iso, seed_site

POOL = PoolSettings(ping_interval=30, hold_after_leave=600, cooldown=120)
ADS = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring&utm_term=pizza"
CALLER = "+79161234567"


class World:
    """One site with a pool, a static and a default number, and its PBX integration."""

    def __init__(self, engine: Engine, tmp: Path) -> None:
        self.engine = engine
        self.clock = Clock()
        self.seeded: Seeded = seed_site(engine, pool_size=2, statics=("Billboard",), pool=POOL)
        self.hook: Hook = add_hook(engine, self.seeded)
        with transaction(engine) as conn:
            self.site = load_site_config(conn, site_id=self.seeded.site_id)
        self.pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp / "spool"), self.clock)
        self._calls = 0

    def visit(
        self, url: str = ADS, visitor: str | None = None, ua: str | None = None
    ) -> tracking.Assignment:
        assert self.site is not None
        visit = tracking.Visit(url=url, visitor=visitor, user_agent=ua)
        return tracking.start_session(self.engine, self.site, visit, self.clock)

    def leave(self, session: str) -> None:
        assert self.site is not None
        site = self.site
        tracking.leave(self.engine, lambda _id: site, session, self.clock)

    def call(self, to: str, caller: str = CALLER, talk: float = 60) -> dict[str, Any]:
        """started / answered / ended at the current virtual time; returns the call row."""
        self._calls += 1
        base = {"call_id": f"pbx-{self._calls}", "caller": caller, "called": to}
        now = self.clock()
        events = [
            {**base, "event": "started", "at": iso(now)},
            {**base, "event": "answered", "at": iso(now + 5)},
            {**base, "event": "ended", "at": iso(now + 5 + talk), "talk": talk},
        ]
        key = None
        for event in events:
            key = self.send(event)["call"]
        return self.row(key)

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(event).encode()
        headers = self.hook.headers(body, at=self.clock())
        reply = self.pipeline.receive_generic(
            self.hook.integration_id,
            headers["X-Callpath-Timestamp"],
            headers["X-Callpath-Signature"],
            body,
        )
        if reply.call_key:
            self.pipeline.apply(reply.call_key)
        return reply.body

    def row(self, key: str | None) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return dict(conn.execute(select(calls).where(calls.c.id == key)).one()._mapping)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return World(engine, tmp_path)


def test_pool_call_goes_to_the_visit_that_held_the_number(world: World) -> None:
    other = world.visit("https://shop.example/?utm_source=google&utm_medium=cpc")
    shown = world.visit()
    world.clock.advance(120)
    call = world.call(shown.number or "")
    assert call["session_id"] == shown.session
    assert call["visitor_id"] == shown.visitor
    assert (call["source"], call["medium"], call["campaign"], call["keyword"]) == (
        "yandex",
        "cpc",
        "spring",
        "pizza",
    )
    assert call["match_method"] == "pool"
    assert call["confidence"] >= 0.85
    assert call["repeat"] is False
    assert call["status"] == "answered" and call["talk"] == 60
    assert other.session != call["session_id"]


def test_call_after_the_hold_ended_goes_to_the_recent_holder(
    world: World,
) -> None:
    shown = world.visit()
    world.leave(shown.session)
    world.clock.advance(600 + 300)  # the hold ended 5 minutes ago; nobody took the number
    call = world.call(shown.number or "")
    assert (call["match_method"], call["session_id"]) == ("fallback", shown.session)
    assert call["confidence"] >= 0.8


def test_call_long_after_any_hold_is_unattributed(world: World) -> None:
    shown = world.visit()
    world.leave(shown.session)
    world.clock.advance(600 + 172_800 + 60)  # past the site's match window
    call = world.call(shown.number or "")
    assert (call["match_method"], call["session_id"], call["source"]) == ("none", None, None)


def test_reused_number_goes_to_its_holder_at_ring_time_with_the_earlier_as_runner_up(
    world: World,
) -> None:
    first = world.visit()
    world.leave(first.session)
    world.clock.advance(600 + 121)  # released and cooled down
    # the first visitor's number is the idle-longest one of two only if the other was used
    second = world.visit("https://shop.example/?utm_source=vk&utm_medium=social")
    third = world.visit("https://shop.example/?utm_source=ok&utm_medium=social")
    holder = second if second.number == first.number else third
    assert holder.number == first.number
    world.clock.advance(30)
    call = world.call(first.number or "")
    assert (call["match_method"], call["session_id"]) == ("pool", holder.session)
    assert [a["session_id"] for a in call["alternatives"]] == [first.session]


IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def _reused_number_call(world: World, ua: str) -> dict[str, Any]:
    """A visitor leaves; 20 minutes later a visitor on `ua` holds the same number and has
    not tapped it; the number rings."""
    first = world.visit()
    world.leave(first.session)
    world.clock.advance(1200)
    holder = world.visit("https://shop.example/?utm_source=vk&utm_medium=social", ua=ua)
    if holder.number != first.number:
        holder = world.visit("https://shop.example/?utm_source=ok&utm_medium=social", ua=ua)
    assert holder.number == first.number
    world.clock.advance(60)
    call = world.call(first.number or "")
    assert call["session_id"] == holder.session
    return call


def test_a_phone_that_did_not_tap_the_number_is_less_sure_a_caller(
    world: World, engine: Engine, tmp_path: Path
) -> None:
    """The device comes from the visit's user agent as stored: a phone holding the number
    without a tap on it earns less confidence than a desktop in the same place."""
    on_phone = _reused_number_call(world, IPHONE)["confidence"]
    on_desktop = _reused_number_call(World(engine, tmp_path / "desk"), WINDOWS)["confidence"]
    assert on_phone < on_desktop


def test_static_number_is_its_channel(world: World) -> None:
    call = world.call(world.seeded.static["Billboard"])
    assert (call["match_method"], call["source"], call["medium"]) == (
        "static",
        "Billboard",
        "offline",
    )
    assert call["confidence"] == 1.0


def test_default_number_is_other(world: World) -> None:
    world.visit()
    call = world.call(world.seeded.default or "")
    assert (call["match_method"], call["source"], call["session_id"]) == ("none", None, None)
    assert call["forward_to"] == world.seeded.original


def test_repeat_caller_is_marked_and_linked_to_its_first_visitor(world: World) -> None:
    shown = world.visit()
    world.clock.advance(60)
    first = world.call(shown.number or "")
    world.clock.advance(86_400)
    again = world.call(world.seeded.default or "")
    assert first["repeat"] is False
    assert again["repeat"] is True
    assert again["first_call_id"] == first["id"]
    assert (again["match_method"], again["visitor_id"]) == ("caller_history", shown.visitor)
    assert again["source"] == "yandex"
    stranger = world.call(world.seeded.default or "", caller="+79169999999")
    assert stranger["repeat"] is False


def test_first_time_is_per_site(world: World, engine: Engine, tmp_path: Path) -> None:
    world.call(world.seeded.static["Billboard"])
    elsewhere = World(engine, tmp_path / "other")
    call = elsewhere.call(elsewhere.seeded.static["Billboard"])
    assert call["repeat"] is False


def test_anonymous_callers_are_not_each_others_repeats(world: World) -> None:
    world.call(world.seeded.static["Billboard"], caller="anonymous")
    call = world.call(world.seeded.static["Billboard"], caller="anonymous")
    assert call["repeat"] is False
    assert call["caller"] == "anonymous"
