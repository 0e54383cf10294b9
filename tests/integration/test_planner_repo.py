"""Pool plans in the database, and the pool health the planner page shows."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select, update

from callpath.domain.pool import PoolSettings
from callpath.reports import pool_health
from callpath.services import tracking
from callpath.storage import plan_repo, site_repo
from callpath.storage.db import transaction
from callpath.storage.tables import pool_plans, sessions
from tests.helpers import Clock, seed_site

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) Mobile/15E148 Safari/604.1"


def test_one_running_plan_per_site_and_stale_ones_give_way(engine: Engine) -> None:
    site = seed_site(engine)
    now = time.time()
    with transaction(engine) as conn:
        first = plan_repo.start(conn, site.account_id, site.site_id, {"target": 0.9}, now)
        second = plan_repo.start(conn, site.account_id, site.site_id, {"target": 0.9}, now + 1)
    assert first is not None and second is None
    later = now + plan_repo.STALE_SECONDS + 1
    with transaction(engine) as conn:
        third = plan_repo.start(conn, site.account_id, site.site_id, {}, later)
        old = conn.execute(select(pool_plans.c.id, pool_plans.c.status)).all()
    assert third is not None and third != first
    assert {(r.id, r.status) for r in old} == {(first, "failed"), (third, "running")}


def test_plans_finish_and_fail_only_in_their_account(engine: Engine) -> None:
    mine, theirs = seed_site(engine), seed_site(engine)
    now = time.time()
    with transaction(engine) as conn:
        plan = plan_repo.start(conn, mine.account_id, mine.site_id, {}, now)
        assert plan is not None
        plan_repo.fail(conn, theirs.account_id, plan, "not yours", now)
        assert plan_repo.latest(conn, theirs.account_id, mine.site_id) is None
        assert plan_repo.running(conn, mine.account_id, mine.site_id) is not None
        plan_repo.finish(conn, mine.account_id, plan, {"recommended": 3}, now + 5)
        plan_repo.fail(conn, mine.account_id, plan, "too late", now + 6)  # done stays done
        got = plan_repo.latest(conn, mine.account_id, mine.site_id)
    assert got is not None
    assert (got["status"], got["result"], got["error"]) == ("done", {"recommended": 3}, None)
    assert got["finished_at"] == now + 5


def _visit(engine: Engine, site_id: int, clock: Clock) -> tracking.Assignment:
    with transaction(engine, write=False) as conn:
        site = site_repo.load_site_config(conn, site_id=site_id)
    assert site is not None
    visit = tracking.Visit(url="https://shop.example/", user_agent=PHONE)
    return tracking.start_session(engine, site, visit, clock)


def test_utilisation_tells_open_pages_from_holds_after_leave(engine: Engine) -> None:
    pool = PoolSettings(ping_interval=30, hold_after_leave=300, cooldown=60)
    site = seed_site(engine, pool_size=4, pool=pool)
    clock = Clock(time.time())
    _visit(engine, site.site_id, clock)  # stays on the page
    left = _visit(engine, site.site_id, clock)
    with transaction(engine, write=False) as conn:
        config = site_repo.load_site_config(conn, site_id=site.site_id)
    assert config is not None
    tracking.leave(engine, lambda _id: config, left.session, clock)
    clock.advance(10)
    with engine.connect() as conn:
        now = pool_health.utilisation(conn, site.account_id, site.site_id, pool, clock())
        gone = pool_health.utilisation(conn, site.account_id, site.site_id, pool, clock() + 330)
        rested = pool_health.utilisation(conn, site.account_id, site.site_id, pool, clock() + 400)
    assert (now.numbers, now.visible, now.after_leave, now.resting, now.free) == (4, 1, 1, 0, 2)
    assert now.held == 2
    assert (gone.visible, gone.after_leave, gone.resting, gone.free) == (0, 0, 2, 2)
    assert (rested.held, rested.resting, rested.free) == (0, 0, 4)


def test_exhaustion_events_per_day_and_the_latest(engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    zone = ZoneInfo("Europe/Moscow")
    clock = Clock(time.time() - 3 * 86_400)
    _visit(engine, site.site_id, clock)
    clock.advance(5)
    assert _visit(engine, site.site_id, clock).reason == "exhausted"
    clock.t = time.time()
    for _ in range(3):  # the old holds have lapsed: one number, three visitors
        _visit(engine, site.site_id, clock)
    with engine.connect() as conn:
        days = pool_health.exhaustion_days(conn, site.account_id, site.site_id, zone, clock())
        latest = pool_health.latest_exhaustions(conn, site.account_id, site.site_id)
    assert len(days) == 14 and days == sorted(days)
    assert days[-1][1] == 2 and days[-4][1] == 1 and sum(n for _, n in days) == 3
    assert [e["number_reason"] for e in latest] == ["exhausted"] * 3
    assert latest[0]["at"] >= latest[-1]["at"]


def test_a_rate_limited_flood_does_not_size_the_pool(engine: Engine) -> None:
    """Starts refused for their pace are a flood, not visitors; starts refused for the
    client's share of the pool may be an office behind one address, and count."""
    site = seed_site(engine, pool_size=1)
    clock = Clock(time.time())
    ids = [_visit(engine, site.site_id, clock).session for _ in range(3)]
    for session_id, reason in zip(ids[1:], ("rate_limited", "client_limit"), strict=True):
        with transaction(engine) as conn:
            conn.execute(
                update(sessions).where(sessions.c.id == session_id).values(number_reason=reason)
            )
    with engine.connect() as conn:
        rows = plan_repo.recorded_sessions(conn, site.account_id, site.site_id, 0.0, 100)
    assert sorted(r["id"] for r in rows) == sorted([ids[0], ids[2]])
