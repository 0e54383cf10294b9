"""A group's new visitors take their numbers together (PostgreSQL: one statement per
sub-pool step, `storage/group_claim.py`; SQLite: one after another). Whatever the way, a
group must answer what the same starts one after another answer: the per-client cap
counted across the group, sub-pools taken in turn, visit codes that collide with none
in use, and the order of a group that mixes new visitors with returning ones and bots.
Runs on both databases."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Engine, select, update

from callpath.domain.pool import PoolSettings
from callpath.domain.site import SiteConfig
from callpath.services import client_limits, setup, tracking
from callpath.settings import ClientLimits
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import sessions, tracking_numbers
from tests.helpers import Clock, next_number, seed_site

YANDEX = "https://shop.example/?utm_source=yandex&utm_medium=cpc"
ORGANIC = "https://shop.example/?utm_source=google&utm_medium=organic"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
POOL = PoolSettings(ping_interval=30, hold_after_leave=600, cooldown=120)


def _site(engine: Engine, ungrouped: int, groups: dict[str, int] | None = None) -> SiteConfig:
    seeded = seed_site(engine, pool_size=ungrouped, pool=POOL)
    with transaction(engine) as conn:
        for rule, count in (groups or {}).items():
            for _ in range(count):
                data = setup.NumberInput(number=next_number(), kind="pool", pool_group=rule)
                setup.add_number(conn, seeded.account_id, seeded.site_id, data, time.time())
        site = load_site_config(conn, site_id=seeded.site_id)
    assert site is not None
    return site


def _client(address: str, share: int = 25) -> client_limits.Client:
    limits = ClientLimits(pool_share=share, pool_min=2, starts_per_minute=0)
    return client_limits.Client(client_limits.client_key(b"k" * 32, address, ""), limits)


def _both_ways(
    engine: Engine, make_site: Callable[[], SiteConfig], visits: list[tracking.Visit]
) -> tuple[list[tracking.Assignment], list[tracking.Assignment]]:
    """The visits one after another on one fresh site, and as one group on another."""
    clock = Clock()
    alone, grouped = make_site(), make_site()
    one_by_one = [tracking.start_session(engine, alone, v, clock) for v in visits]
    together = tracking.start_sessions(engine, [(grouped, v) for v in visits], clock)
    answers = [a for a in together if isinstance(a, tracking.Assignment)]
    assert len(answers) == len(visits), together
    return one_by_one, answers


def test_a_clients_cap_counts_the_sessions_before_it_in_the_group(engine: Engine) -> None:
    """Cap 2 (a quarter of 8, at least 2): a client's third and fourth starts in one
    group get the default number, another client's starts between them are not
    counted against it, and the group answers what one by one answers."""
    crowd, other = _client("203.0.113.7"), _client("198.51.100.1")
    clients = [crowd, crowd, other, crowd, crowd, other]
    visits = [tracking.Visit(url=YANDEX, user_agent=UA, client=c) for c in clients]
    alone, together = _both_ways(engine, lambda: _site(engine, 8), visits)
    reasons = [a.reason for a in together]
    assert reasons == ["pool", "pool", "pool", "client_limit", "client_limit", "pool"]
    assert [a.reason for a in alone] == reasons
    numbers = [a.number for a in together if a.reason == "pool"]
    assert len(set(numbers)) == 4


def test_a_clients_holds_from_before_the_group_count_too(engine: Engine) -> None:
    client = _client("203.0.113.9")
    site = _site(engine, 8)
    clock = Clock()
    first = tracking.start_session(engine, site, tracking.Visit(url=YANDEX, client=client), clock)
    assert first.reason == "pool"
    got = tracking.start_sessions(
        engine, [(site, tracking.Visit(url=YANDEX, client=client)) for _ in range(3)], clock
    )
    assert [a.reason for a in got if isinstance(a, tracking.Assignment)] == [
        "pool",
        "client_limit",
        "client_limit",
    ]


def test_sub_pools_are_taken_in_turn_within_a_group(engine: Engine) -> None:
    """Yandex ads traffic takes its group's 2 numbers, then the 2 ungrouped ones, then
    nothing is left for it; organic traffic in the same group never takes a group
    number, so it finds the pool empty once the ads took the ungrouped ones."""
    urls = [YANDEX] * 5 + [ORGANIC]
    visits = [tracking.Visit(url=u, user_agent=UA) for u in urls]
    alone, together = _both_ways(engine, lambda: _site(engine, 2, {"yandex/cpc": 2}), visits)
    assert [a.reason for a in together] == ["pool"] * 4 + ["exhausted", "exhausted"]
    assert [a.reason for a in alone] == [a.reason for a in together]
    assert len({a.number for a in together[:4]}) == 4


def test_a_mixed_group_keeps_its_order(engine: Engine) -> None:
    """A returning visitor, a bot and an opted-out channel between new visitors: each
    new session still sees the claims of the ones before it, as one by one."""
    visits = [
        tracking.Visit(url=YANDEX, user_agent=UA),
        tracking.Visit(url=YANDEX, user_agent=BOT_UA),
        tracking.Visit(url=YANDEX, user_agent=UA, visitor="returning-visitor-01"),
        tracking.Visit(url=ORGANIC, user_agent=UA),
        tracking.Visit(url=YANDEX, user_agent=UA),
        tracking.Visit(url=YANDEX, user_agent=UA),
    ]

    def make() -> SiteConfig:
        return dataclasses.replace(_site(engine, 3), excluded_channels=("organic",))

    alone, together = _both_ways(engine, make, visits)
    reasons = [a.reason for a in together]
    assert reasons == ["pool", "bot", "pool", "excluded", "pool", "exhausted"]
    assert [a.reason for a in alone] == reasons


def test_visit_codes_drawn_together_avoid_the_codes_in_use(engine: Engine) -> None:
    """With every 4-digit code but a handful in use, a group's exhausted sessions get
    distinct codes that no live session shows (4 digits while free ones last, then
    longer), never one in use."""
    site = _site(engine, 0)
    clock = Clock()
    first = tracking.start_session(engine, site, tracking.Visit(url=YANDEX), clock)
    assert first.reason == "default"  # no pool at all: no code
    with_pool = _site(engine, 1)
    taken = tracking.start_sessions(
        engine, [(with_pool, tracking.Visit(url=YANDEX)) for _ in range(3)], clock
    )
    codes = [a.visit_code for a in taken if isinstance(a, tracking.Assignment) and a.visit_code]
    assert len(codes) == 2 and len(set(codes)) == 2
    # Now fill almost every 4-digit code: live sessions of the site showing them.
    free = {str(c) for c in range(1000, 10_000)} - set(codes)
    keep_free = set(sorted(free)[:3])
    _fill_codes(engine, with_pool, free - keep_free, clock())
    got = tracking.start_sessions(
        engine, [(with_pool, tracking.Visit(url=YANDEX)) for _ in range(6)], clock
    )
    new_codes = [a.visit_code for a in got if isinstance(a, tracking.Assignment)]
    assert all(new_codes) and len(set(new_codes)) == 6
    in_use = free - keep_free
    assert not set(new_codes) & (in_use | set(codes))
    assert Counter(len(c or "") for c in new_codes)[4] <= 3


def _fill_codes(engine: Engine, site: SiteConfig, codes: set[str], now: float) -> None:
    """Sessions of the site, seen now, each showing one of `codes`."""
    rows = [
        {
            "id": f"filler-{code}",
            "account_id": site.account_id,
            "site_id": site.id,
            "visitor_id": f"filler-visitor-{code}",
            "started_at": now,
            "last_seen_at": now,
            "landing_url": YANDEX,
            "source": "yandex",
            "medium": "cpc",
            "utm": {},
            "click_ids": {},
            "client_ids": {},
            "number_reason": "exhausted",
            "visit_code": code,
        }
        for code in codes
    ]
    with transaction(engine) as conn:
        conn.execute(sessions.insert(), rows)


def test_a_group_takes_the_numbers_idle_longest_in_its_order(engine: Engine) -> None:
    """Four free numbers that last rang for someone at different times: a group of
    three new visitors gets the three idle longest, the first visitor the longest."""
    site = _site(engine, 4)
    clock = Clock()
    with transaction(engine) as conn:
        ids = conn.scalars(
            select(tracking_numbers.c.id)
            .where(tracking_numbers.c.site_id == site.id, tracking_numbers.c.kind == "pool")
            .order_by(tracking_numbers.c.id)
        ).all()
        for number_id, idle in zip(ids, (3_600, 60_000, 600, 30_000), strict=True):
            conn.execute(
                update(tracking_numbers)
                .where(tracking_numbers.c.id == number_id)
                .values(held_until=clock() - idle)
            )
        e164 = dict(
            conn.execute(
                select(tracking_numbers.c.id, tracking_numbers.c.e164).where(
                    tracking_numbers.c.id.in_(ids)
                )
            ).all()
        )
    got = tracking.start_sessions(
        engine, [(site, tracking.Visit(url=YANDEX)) for _ in range(3)], clock
    )
    assert [a.number for a in got if isinstance(a, tracking.Assignment)] == [
        e164[ids[1]],
        e164[ids[3]],
        e164[ids[0]],
    ]
