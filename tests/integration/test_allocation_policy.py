"""Allocation policy v1 through the service layer, on a real database, with a virtual clock."""

from __future__ import annotations

from sqlalchemy import Engine, select

from callpath.domain.pool import PoolSettings
from callpath.services import tracking
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import reservations, session_events
from tests.helpers import Clock, seed_site

POOL = PoolSettings(ping_interval=30, hold_after_leave=600, cooldown=120)


def _site(engine: Engine, **kw: object):  # type: ignore[no-untyped-def]
    seeded = seed_site(engine, pool=POOL, **kw)  # type: ignore[arg-type]
    with transaction(engine) as conn:
        config = load_site_config(conn, site_id=seeded.site_id)
    assert config is not None
    return seeded, config


def _start(engine, site, clock, visitor=None, url="https://shop.example/", session=None):  # type: ignore[no-untyped-def]
    visit = tracking.Visit(url=url, visitor=visitor, session=session)
    return tracking.start_session(engine, site, visit, clock)


def test_new_visitors_get_distinct_numbers_then_default(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=2)
    clock = Clock()
    got = [_start(engine, site, clock).number for _ in range(3)]
    assert sorted(got[:2]) == sorted(seeded.pool)
    assert got[2] == seeded.default
    with engine.connect() as conn:
        kinds = conn.execute(select(session_events.c.kind)).scalars().all()
    assert kinds == ["pool_exhausted"]


def test_no_default_number_means_no_number(engine: Engine) -> None:
    _seeded, site = _site(engine, pool_size=0, default=False)
    a = _start(engine, site, Clock())
    assert (a.number, a.reason) == (None, "none")


def test_hold_lives_while_pinged_and_expires_after_leave(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=1)
    clock = Clock()
    first = _start(engine, site, clock)
    for _ in range(40):  # 20 minutes of a visible page, pinged every 30 s
        clock.advance(30)
        assert tracking.ping(engine, lambda _id: site, first.session, clock).number == first.number
    assert _start(engine, site, clock).number == seeded.default  # still held
    assert tracking.leave(engine, lambda _id: site, first.session, clock)
    clock.advance(POOL.hold_after_leave - 1)
    assert _start(engine, site, clock).number == seeded.default  # hold after leave
    clock.advance(1 + POOL.cooldown)
    assert _start(engine, site, clock).number == first.number  # released, cooled down


def test_cooldown_keeps_a_released_number_from_strangers(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=1)
    clock = Clock()
    first = _start(engine, site, clock)
    clock.advance(POOL.hold_after_leave + POOL.cooldown / 2)  # hold over, cooldown running
    assert _start(engine, site, clock).number == seeded.default
    # ... but its own visitor gets it back at once.
    again = _start(engine, site, clock, visitor=first.visitor)
    assert again.number == first.number


def test_returning_visitor_keeps_its_number_while_the_hold_lives(engine: Engine) -> None:
    _seeded, site = _site(engine, pool_size=3)
    clock = Clock()
    first = _start(engine, site, clock)
    clock.advance(60)
    back = _start(engine, site, clock, visitor=first.visitor)
    assert back.session != first.session
    assert back.number == first.number
    with engine.connect() as conn:
        spans = conn.execute(
            select(
                reservations.c.session_id, reservations.c.started_at, reservations.c.until
            ).order_by(reservations.c.id)
        ).all()
    assert [s[0] for s in spans] == [first.session, back.session]
    assert spans[0][2] == spans[1][1]  # the first hold ends where the second begins


def test_new_visitor_gets_the_number_idle_longest(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=3)
    clock = Clock()
    a, b, c = (_start(engine, site, clock) for _ in range(3))
    for s in (b, c, a):  # released in the order b, c, a
        tracking.leave(engine, lambda _id: site, s.session, clock)
        clock.advance(10)
    clock.advance(POOL.hold_after_leave + POOL.cooldown)
    assert _start(engine, site, clock).number == b.number
    assert _start(engine, site, clock).number == c.number
    assert sorted([a.number, b.number, c.number]) == sorted(seeded.pool)


def test_further_pages_continue_the_session_and_campaign_tags_start_a_new_one(
    engine: Engine,
) -> None:
    _seeded, site = _site(engine, pool_size=2)
    clock = Clock()
    first = _start(engine, site, clock)
    clock.advance(20)
    page2 = _start(
        engine,
        site,
        clock,
        visitor=first.visitor,
        session=first.session,
        url="https://shop.example/menu",
    )
    assert (page2.session, page2.number) == (first.session, first.number)
    clock.advance(20)
    tagged = _start(
        engine,
        site,
        clock,
        visitor=first.visitor,
        session=first.session,
        url="https://shop.example/?utm_source=vk&utm_medium=cpc",
    )
    assert tagged.session != first.session
    assert tagged.number == first.number  # the same visitor keeps its number


def test_ping_after_losing_the_number_finds_another(engine: Engine) -> None:
    _seeded, site = _site(engine, pool_size=2)
    clock = Clock()
    first = _start(engine, site, clock)
    clock.advance(POOL.hold_after_leave + POOL.cooldown + 1)  # tab slept; hold lapsed
    other = _start(engine, site, clock)
    other2 = _start(engine, site, clock)
    assert first.number in (other.number, other2.number)
    back = tracking.ping(engine, lambda _id: site, first.session, clock)
    assert back is not None
    assert back.number not in (other.number, other2.number)  # never a live holder's number


def test_excluded_channel_keeps_the_default_number(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=2, excluded=("organic",))
    clock = Clock()
    organic = tracking.start_session(
        engine,
        site,
        tracking.Visit(url="https://shop.example/", referrer="https://www.google.com/"),
        clock,
    )
    paid = _start(engine, site, clock, url="https://shop.example/?utm_source=google&utm_medium=cpc")
    assert (organic.number, organic.reason) == (seeded.default, "excluded")
    assert paid.number in seeded.pool


def test_tel_click_is_recorded_and_renews_the_hold(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=1)
    clock = Clock()
    first = _start(engine, site, clock)
    clock.advance(POOL.hold_after_leave - 10)
    assert tracking.record_event(engine, lambda _id: site, first.session, "tel_click", clock)
    clock.advance(POOL.hold_after_leave - 10)  # past the original hold, within the renewed
    assert _start(engine, site, clock).number == seeded.default


def test_exhaustion_is_counted_once_per_visit_and_a_ping_upgrades_later(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=1)
    clock = Clock()
    holder = _start(engine, site, clock)
    waiting = _start(engine, site, clock)
    assert waiting.number == seeded.default
    for _ in range(3):
        clock.advance(30)
        again = tracking.ping(engine, lambda _id: site, waiting.session, clock)
        assert again is not None and again.number == seeded.default
    with engine.connect() as conn:
        events = conn.execute(select(session_events.c.session_id)).scalars().all()
    assert events == [waiting.session]
    tracking.leave(engine, lambda _id: site, holder.session, clock)
    clock.advance(POOL.hold_after_leave + POOL.cooldown)
    upgraded = tracking.ping(engine, lambda _id: site, waiting.session, clock)
    assert upgraded is not None and upgraded.number == holder.number


def test_bots_get_the_default_number_and_never_a_pool_number(engine: Engine) -> None:
    seeded, site = _site(engine, pool_size=1)
    clock = Clock()
    for ua in (
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    ):
        visit = tracking.Visit(url="https://shop.example/", user_agent=ua)
        got = tracking.start_session(engine, site, visit, clock)
        assert (got.number, got.reason) == (seeded.default, "bot")
        again = tracking.ping(engine, lambda _id: site, got.session, clock)
        assert again is not None and again.reason == "bot"
    person = tracking.Visit(url="https://shop.example/", user_agent="Mozilla/5.0 (iPhone)")
    assert tracking.start_session(engine, site, person, clock).number == seeded.pool[0]
