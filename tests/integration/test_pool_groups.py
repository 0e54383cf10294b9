"""Sub-pools through the real services and database, on a virtual clock: a session of a
group's channel (or country) takes that group's numbers first, others never do."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig
from callpath.services import setup, tracking
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import calls
from tests.helpers import Clock, Seeded, add_hook, iso, next_number, seed_site

POOL = PoolSettings(ping_interval=30, hold_after_leave=600, cooldown=120)
YANDEX = "https://shop.example/?utm_source=yandex&utm_medium=cpc"
GOOGLE_ADS = "https://shop.example/?utm_source=google&utm_medium=cpc"
ORGANIC = "https://shop.example/?utm_source=google&utm_medium=organic"
GERMAN_IP = "85.214.132.117"


class Shop:
    """A site with `ungrouped` plain pool numbers and the given grouped ones."""

    def __init__(self, engine: Engine, ungrouped: int, groups: dict[str, int]) -> None:
        self.engine = engine
        self.clock = Clock()
        self.seeded: Seeded = seed_site(engine, pool_size=ungrouped, pool=POOL)
        self.group: dict[str, list[str]] = {}
        with transaction(engine) as conn:
            for rule, count in groups.items():
                for _ in range(count):
                    number = next_number()
                    self.group.setdefault(rule, []).append(number)
                    data = setup.NumberInput(number=number, kind="pool", pool_group=rule)
                    setup.add_number(
                        conn, self.seeded.account_id, self.seeded.site_id, data, time.time()
                    )
            site = load_site_config(conn, site_id=self.seeded.site_id)
        assert site is not None
        self.site: SiteConfig = site

    def visit(
        self, url: str = YANDEX, visitor: str | None = None, ip: str | None = None
    ) -> tracking.Assignment:
        visit = tracking.Visit(url=url, visitor=visitor, ip=ip)
        return tracking.start_session(self.engine, self.site, visit, self.clock)

    def ping(self, session: str) -> tracking.Assignment | None:
        site = self.site
        return tracking.ping(self.engine, lambda _id: site, session, self.clock)


def test_site_config_knows_its_groups(engine: Engine) -> None:
    shop = Shop(engine, 2, {"yandex/cpc": 2, "country:DE": 1})
    assert shop.site.pool_groups == {"yandex/cpc", "country:DE"}
    assert (shop.site.pool_size, shop.site.ungrouped_size) == (5, 2)


def test_a_grouped_session_takes_its_group_first_then_overflows(engine: Engine) -> None:
    shop = Shop(engine, 2, {"yandex/cpc": 1})
    first = shop.visit()
    assert (first.number, first.reason) == (shop.group["yandex/cpc"][0], "pool")
    second = shop.visit()  # the group is busy: the ungrouped pool
    assert second.number in shop.seeded.pool


def test_an_ungrouped_session_never_takes_a_group_number(engine: Engine) -> None:
    shop = Shop(engine, 1, {"yandex/cpc": 2})
    got = [shop.visit(ORGANIC) for _ in range(3)]
    assert got[0].number == shop.seeded.pool[0]
    assert [(a.number, a.reason) for a in got[1:]] == [(shop.seeded.default, "exhausted")] * 2
    assert shop.visit().number in shop.group["yandex/cpc"]  # kept for its channel


def test_without_ungrouped_numbers_any_free_number_goes(engine: Engine) -> None:
    shop = Shop(engine, 0, {"yandex/cpc": 1, "google": 1})
    numbers = {shop.visit(ORGANIC).number, shop.visit(ORGANIC).number}
    assert numbers == {shop.group["yandex/cpc"][0], shop.group["google"][0]}


def test_the_most_specific_group_wins(engine: Engine) -> None:
    groups = {"country:DE": 1, "cpc": 1, "yandex": 1, "yandex/cpc": 1, "google": 1}
    shop = Shop(engine, 1, groups)
    got = [shop.visit(ip=GERMAN_IP).number for _ in range(6)]
    order = ["yandex/cpc", "yandex", "cpc", "country:DE"]
    assert got[:4] == [shop.group[g][0] for g in order]
    assert got[4:] == [shop.seeded.pool[0], shop.seeded.default]  # never "google"'s


def test_a_country_rule_keeps_numbers_for_that_country(engine: Engine) -> None:
    shop = Shop(engine, 1, {"country:DE": 1})
    assert shop.visit(ORGANIC, ip="95.31.0.7").number == shop.seeded.pool[0]  # Russia
    assert shop.visit(ORGANIC, ip="95.31.0.8").number == shop.seeded.default
    assert shop.visit(ORGANIC, ip=GERMAN_IP).number == shop.group["country:DE"][0]


def test_sticky_numbers_respect_groups(engine: Engine) -> None:
    shop = Shop(engine, 2, {"yandex/cpc": 1})
    first = shop.visit()
    assert first.number == shop.group["yandex/cpc"][0]
    # Back in a new visit from another channel: the group's number is not for it.
    back = shop.visit(ORGANIC, visitor=first.visitor)
    assert back.number in shop.seeded.pool
    # From the group's channel again: its own number, though the group has none free.
    again = shop.visit(visitor=first.visitor)
    assert again.number == first.number
    # An ungrouped own number is kept whatever the channel.
    plain = shop.visit(GOOGLE_ADS, visitor=back.visitor)
    assert plain.number == back.number


def test_a_lost_hold_is_found_again_in_the_sessions_group(engine: Engine) -> None:
    shop = Shop(engine, 1, {"yandex/cpc": 2})
    first = shop.visit()
    shop.clock.advance(POOL.hold_after_leave + POOL.cooldown + 1)  # silent: the hold lapsed
    taken = [shop.visit().number for _ in range(2)]  # two strangers of the same channel
    assert set(taken) == set(shop.group["yandex/cpc"])
    again = shop.ping(first.session)
    assert again is not None and again.number == shop.seeded.pool[0]


def test_the_naive_reference_ignores_groups(engine: Engine) -> None:
    shop = Shop(engine, 1, {"yandex/cpc": 1})
    pool = dataclasses.replace(POOL, selection="random", sticky=False)
    shop.site = dataclasses.replace(shop.site, policy="naive", pool=pool)
    numbers = {shop.visit(ORGANIC).number, shop.visit(ORGANIC).number}
    assert numbers == {shop.seeded.pool[0], shop.group["yandex/cpc"][0]}


def test_an_unattributed_call_on_a_grouped_number_keeps_the_groups_channel(
    engine: Engine, tmp_path: Path
) -> None:
    shop = Shop(engine, 1, {"yandex/cpc": 1, "cpc": 1})
    hook = add_hook(engine, shop.seeded)
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path / "spool"), shop.clock)

    def call(to: str, n: int) -> dict[str, Any]:
        event = {"call_id": f"pbx-{n}", "caller": "+79161234567", "called": to}
        body = json.dumps({**event, "event": "started", "at": iso(shop.clock())}).encode()
        headers = hook.headers(body, at=shop.clock())
        reply = pipeline.receive_generic(
            hook.integration_id,
            headers["X-Callpath-Timestamp"],
            headers["X-Callpath-Signature"],
            body,
        )
        pipeline.apply(reply.call_key)
        with engine.connect() as conn:
            return dict(
                conn.execute(select(calls).where(calls.c.id == reply.call_key)).one()._mapping
            )

    # Nobody ever held these numbers: the calls stay unattributed at session level.
    grouped = call(shop.group["yandex/cpc"][0], 1)
    assert (grouped["match_method"], grouped["session_id"]) == ("none", None)
    assert (grouped["source"], grouped["medium"]) == ("yandex", "cpc")
    medium_only = call(shop.group["cpc"][0], 2)  # a source or medium alone says too little
    assert (medium_only["source"], medium_only["medium"]) == (None, None)
    plain = call(shop.seeded.pool[0], 3)
    assert (plain["source"], plain["medium"]) == (None, None)
