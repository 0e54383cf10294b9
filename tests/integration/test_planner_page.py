"""The pool page: live state, bad input, and a plan computed in the background."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from callpath import settings as settings_mod
from callpath.planner.run import Params
from callpath.services import accounts
from callpath.storage import plan_repo
from callpath.storage.db import transaction
from callpath.storage.tables import pool_plans, tracking_numbers
from callpath.web.app import create_app
from callpath.workers import planning
from tests.helpers import PASSWORD, Seeded, add_number, seed_site, wait_for
from tests.integration.test_planner_cli import record


@pytest.fixture
def app(engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    return create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=3)


@pytest.fixture
def client(app, engine: Engine, site: Seeded) -> TestClient:  # type: ignore[no-untyped-def]
    with transaction(engine) as conn:
        accounts.create_user(conn, site.account_id, "me@shop.example", PASSWORD, "owner", time.time())
    client = TestClient(app, raise_server_exceptions=False)
    login = {"email": "me@shop.example", "password": PASSWORD}
    assert client.post("/app/login", data=login, follow_redirects=False).status_code == 303
    return client


def _plans(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(pool_plans)).scalar_one())


def test_the_page_shows_live_state_and_is_linked_from_the_site(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    assert f'href="/app/sites/{site.site_id}/pool"' in client.get(f"/app/sites/{site.site_id}").text
    page = client.get(f"/app/sites/{site.site_id}/pool")
    assert page.status_code == 200
    assert '<table id="utilisation">' in page.text
    assert "<td>3</td><td>0</td><td>0</td><td>0</td><td>3</td>" in page.text
    assert "No visits recorded in the last 7 days." in page.text
    assert "No plan yet." in page.text
    assert "fewer than 200 visits" in page.text


def test_other_accounts_sites_are_not_found(client: TestClient, engine: Engine) -> None:
    theirs = seed_site(engine, pool_size=1)
    assert client.get(f"/app/sites/{theirs.site_id}/pool").status_code == 404
    r = client.post(f"/app/sites/{theirs.site_id}/pool/plans", data={"target": "0.9"})
    assert r.status_code == 404
    assert _plans(engine) == 0


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"target": "1.2"}, "target must be a number from 0.5 to 0.999"),
        ({"target": "lots"}, "target must be a number"),
        ({"target": "true"}, "target must be a number"),
        ({"target": "nan"}, "target must be a number from 0.5 to 0.999"),
        ({"days": "-3"}, "days must be a number from 1 to 366"),
        ({"days": "inf"}, "days must be a number from 1 to 366"),
        ({"sizes": "4,five"}, "sizes must be whole numbers"),
        ({"sizes": "0"}, "each 1..100000"),
        ({"visits_per_day": "0"}, "visits per day must be a number from 1 to 50000"),
        ({"visits_per_day": "8e-269"}, "visits per day must be a number from 1 to 50000"),
        ({"visits_per_day": "1e999"}, "visits per day must be a number from 1 to 50000"),
        ({"visits_per_day": "20000"}, "visits per day times days must be at most 50000"),
    ],
)
def test_bad_parameters_are_a_form_error(
    client: TestClient, engine: Engine, site: Seeded, form: dict[str, str], message: str
) -> None:
    r = client.post(f"/app/sites/{site.site_id}/pool/plans", data=form)
    assert r.status_code == 400
    assert message in r.text and 'class="err"' in r.text
    assert _plans(engine) == 0


def test_a_second_plan_while_one_runs_just_redirects(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    with transaction(engine) as conn:
        plan_repo.start(conn, site.account_id, site.site_id, {"target": 0.95}, time.time())
    r = client.post(f"/app/sites/{site.site_id}/pool/plans", data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/app/sites/{site.site_id}/pool"
    assert _plans(engine) == 1
    page = client.get(f"/app/sites/{site.site_id}/pool")
    assert 'id="plan-running"' in page.text and page.headers["refresh"] == "5"
    running = page.text.split('id="plan-running"', 1)[1].split("</p>", 1)[0]
    assert " MSK;" in running  # the site's timezone, not UTC


@contextmanager
def plan_threads_held() -> Iterator[tuple[threading.Event, list[str]]]:
    """Plan threads started meanwhile stop at their first line until the event is set; the
    list names those that did. Nothing of the product is replaced: the thread is held."""
    release, held = threading.Event(), []

    def hold(_frame: FrameType, _event: str, _arg: object) -> None:
        sys.settrace(None)  # once per thread: the rest of it runs untraced
        name = threading.current_thread().name
        if name.startswith("callpath-plan-"):
            held.append(name)
            release.wait(600)

    threading.settrace(hold)
    try:
        yield release, held
    finally:
        threading.settrace(None)
        release.set()


def _plan_status(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(pool_plans.c.status)).scalar_one())


def test_a_plan_runs_in_the_background_and_shows_its_curve(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    record(engine, site, humans=205)
    with plan_threads_held() as (release, held):
        r = client.post(
            f"/app/sites/{site.site_id}/pool/plans",
            data={"target": "0.9", "sizes": "1,3"},
            follow_redirects=False,
        )
        # the answer came while the plan's own thread had not run a line of the replays
        assert r.status_code == 303
        assert _plan_status(engine) == "running"
        wait_for(lambda: held == [f"callpath-plan-{_plan_id(engine)}"])
        page = client.get(f"/app/sites/{site.site_id}/pool")
        assert 'id="plan-running"' in page.text
        release.set()

    def finished() -> Any:
        page = client.get(f"/app/sites/{site.site_id}/pool")
        return page if 'id="plan-running"' not in page.text else None

    page = wait_for(finished, seconds=600)  # generously: a busy machine replays slowly
    assert 'id="recommendation"' in page.text, page.text
    assert "recorded sessions: 205 human visits" in page.text
    assert "<polyline" in page.text and '<table id="curve">' in page.text
    assert page.text.count("<tr><td>") >= 2
    assert "From 205 visits of the last 7 days: N = " in page.text
    assert "refresh" not in page.headers


def _plan_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(pool_plans.c.id)).scalar_one())


def test_while_the_server_computes_its_most_plans_the_form_says_so(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    held = 0
    try:
        while planning.SLOTS.take():
            held += 1
        r = client.post(f"/app/sites/{site.site_id}/pool/plans", data={"target": "0.9"})
        assert r.status_code == 429
        assert 'class="err"' in r.text
        assert "pool plans are being computed on this server already" in r.text
        assert _plans(engine) == 0
    finally:
        for _ in range(held):
            planning.SLOTS.give_back()


def test_a_failed_plan_says_why(client: TestClient, engine: Engine, site: Seeded) -> None:
    gone = seed_site(engine, pool_size=0)
    with transaction(engine) as conn:
        plan_id = plan_repo.start(conn, site.account_id, site.site_id, {}, time.time())
    assert plan_id is not None
    planning.compute(engine, site.account_id, gone.site_id, plan_id, Params())
    page = client.get(f"/app/sites/{site.site_id}/pool")
    assert 'id="plan-failed"' in page.text and "the site is gone" in page.text
    assert "refresh" not in page.headers


def test_sub_pools_are_counted_apart(client: TestClient, engine: Engine, site: Seeded) -> None:
    """A free number kept for one country does not serve other visits: the page counts
    each sub-pool on its own row."""
    now = time.time()
    add_number(engine, site, "+74957770042", "pool", group="country:DE")
    with transaction(engine) as conn:
        for e164 in site.pool:  # every ungrouped number held
            conn.execute(
                update(tracking_numbers)
                .where(tracking_numbers.c.e164 == e164)
                .values(held_until=now + 300)
            )
    page = client.get(f"/app/sites/{site.site_id}/pool").text
    rows = page.split('<table id="utilisation">', 1)[1].split("</table>", 1)[0]
    assert (
        "<td>ungrouped (any visit)</td><td>3</td><td>0</td><td>3</td><td>0</td><td>0</td>" in rows
    )
    assert "<td>country:DE</td><td>1</td><td>0</td><td>0</td><td>0</td><td>1</td>" in rows
    assert "<td>all</td><td>4</td><td>0</td><td>3</td><td>0</td><td>1</td>" in rows
