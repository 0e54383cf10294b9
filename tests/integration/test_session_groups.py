"""Session starts that arrive together run as one group: one transaction, a statement per
table for all of them (`tracking.start_sessions`). A group must leave exactly what the
same starts one after another leave, and one bad start must not take the others down.
Runs on both databases."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from callpath import settings as settings_mod
from callpath.domain.site import SiteConfig
from callpath.services import tracking
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import pageviews, reservations, session_events, sessions, visitors
from callpath.web.app import create_app
from tests.helpers import Clock, run_async, seed_site

LANDING = "https://shop.example/?utm_source=yandex&utm_medium=cpc"
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def _site(engine: Engine, pool_size: int) -> SiteConfig:
    seeded = seed_site(engine, pool_size=pool_size)
    with transaction(engine) as conn:
        site = load_site_config(conn, site_id=seeded.site_id)
    assert site is not None
    return site


def _visit(visitor: str | None = None, **kw: Any) -> tracking.Visit:
    return tracking.Visit(url=LANDING, user_agent=UA, visitor=visitor, **kw)


def _rows(engine: Engine, site_id: int) -> dict[str, Any]:
    """What the starts left in the database, without the random ids."""
    with transaction(engine, write=False) as conn:
        got = conn.execute(
            select(sessions.c.number_reason, sessions.c.number_id, sessions.c.visit_code).where(
                sessions.c.site_id == site_id
            )
        ).all()
        count = {
            t.name: conn.scalar(select(func.count()).select_from(t).where(t.c.site_id == site_id))
            for t in (visitors, reservations, session_events)
        }
        views = conn.scalar(
            select(func.count())
            .select_from(pageviews.join(sessions, sessions.c.id == pageviews.c.session_id))
            .where(sessions.c.site_id == site_id)
        )
    return {
        "reasons": Counter(r.number_reason for r in got),
        "numbers": Counter(r.number_id is not None for r in got),
        "codes": [r.visit_code for r in got if r.visit_code],
        **count,
        "pageviews": views,
    }


def test_a_group_leaves_what_the_same_starts_one_by_one_leave(engine: Engine) -> None:
    clock = Clock()
    visits = [_visit() for _ in range(7)] + [_visit("returning-visitor-1")]
    alone, grouped = _site(engine, pool_size=4), _site(engine, pool_size=4)
    one_by_one = [tracking.start_session(engine, alone, v, clock) for v in visits]
    together = tracking.start_sessions(engine, [(grouped, v) for v in visits], clock)
    assert all(isinstance(a, tracking.Assignment) for a in together)
    assert [a.reason for a in one_by_one] == [a.reason for a in together]  # type: ignore[union-attr]
    numbers = [a.number for a in together if a.reason == "pool"]  # type: ignore[union-attr]
    assert len(numbers) == len(set(numbers)) == 4
    a, b = _rows(engine, alone.id), _rows(engine, grouped.id)
    assert len(b["codes"]) == len(set(b["codes"])) == 4  # every exhausted visit: its own code
    a.pop("codes"), b.pop("codes")
    assert a == b
    assert b["reasons"] == Counter(pool=4, exhausted=4)
    assert b["reservations"] == 4 and b["session_events"] == 4 and b["pageviews"] == 8


def test_a_visitor_twice_in_a_group_gets_what_it_would_one_after_the_other(
    engine: Engine,
) -> None:
    """Two new sessions of one visitor (two tabs opened at once): the second takes the
    number back from the first, as it would a moment later, and the first one's hold in
    the history ends where the second's begins."""
    clock = Clock()
    site = _site(engine, pool_size=3)
    first, second = tracking.start_sessions(
        engine, [(site, _visit("two-tabs-visitor")), (site, _visit("two-tabs-visitor"))], clock
    )
    assert isinstance(first, tracking.Assignment) and isinstance(second, tracking.Assignment)
    assert first.number == second.number and first.session != second.session
    with transaction(engine, write=False) as conn:
        history = conn.execute(
            select(reservations.c.session_id, reservations.c.started_at, reservations.c.until)
            .where(reservations.c.site_id == site.id)
            .order_by(reservations.c.id)
        ).all()
    assert [h.session_id for h in history] == [first.session, second.session]
    assert history[0].until == history[1].started_at


def test_one_bad_start_fails_alone(engine: Engine) -> None:
    """A start the database refuses (here: a site that is not in it) rolls its group back;
    the group then runs one by one, and only that start answers with the error."""
    clock = Clock()
    site = _site(engine, pool_size=3)
    ghost = dataclasses.replace(site, id=site.id + 10_000)
    got = tracking.start_sessions(
        engine, [(site, _visit()), (ghost, _visit()), (site, _visit())], clock
    )
    assert isinstance(got[0], tracking.Assignment) and got[0].reason == "pool"
    assert isinstance(got[1], Exception)
    assert isinstance(got[2], tracking.Assignment) and got[2].reason == "pool"
    rows = _rows(engine, site.id)
    assert rows["reasons"] == Counter(pool=2) and rows["reservations"] == 2


def test_concurrent_requests_are_grouped_and_each_gets_its_own_answer(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """Through the app: starts sent at once all get a session, distinct numbers while
    the pool lasts, and a visit code each after."""
    seeded = seed_site(engine, pool_size=5, domains=("shop.example",))
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
        "CALLPATH_CLIENT_POOL_SHARE": "100",  # all from one address: no per-client cap here
    }
    app = create_app(settings_mod.load(env))

    async def send_all() -> list[httpx.Response]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                body = json.dumps({"site": seeded.key, "url": LANDING})
                return await asyncio.gather(
                    *(
                        client.post(
                            "/t/v1/session",
                            content=body,
                            headers={"Origin": "https://shop.example", "User-Agent": UA},
                        )
                        for _ in range(12)
                    )
                )

    answers = [r.json() for r in run_async(send_all())]
    assert len({a["session"] for a in answers}) == 12
    pool = [a["number"] for a in answers if a["reason"] == "pool"]
    assert len(pool) == len(set(pool)) == 5
    codes = [a["visit_code"] for a in answers if a["reason"] == "exhausted"]
    assert len(codes) == len(set(codes)) == 7
    assert _rows(engine, seeded.site_id)["reasons"] == Counter(pool=5, exhausted=7)
