"""The pool page: live state, bad input, and a plan computed in the background."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from callpath import settings as settings_mod
from callpath.planner.run import Params
from callpath.services import planning, setup
from callpath.storage import plan_repo
from callpath.storage.db import transaction
from callpath.storage.tables import pool_plans, tracking_numbers
from callpath.web.app import create_app
from tests.helpers import PASSWORD, Seeded, add_number, seed_site
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
        setup.create_user(conn, site.account_id, "me@shop.example", PASSWORD, "owner", time.time())
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
        ({"target": "1.2"}, "target must be between 0 and 1"),
        ({"target": "lots"}, "target must be a number"),
        ({"days": "-3"}, "days must be more than 0"),
        ({"sizes": "4,five"}, "sizes must be whole numbers"),
        ({"sizes": "0"}, "each 1..100000"),
        ({"visits_per_day": "0"}, "visits per day must be more than 0"),
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


def test_a_plan_runs_in_the_background_and_shows_its_curve(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    record(engine, site, humans=205)
    began = time.monotonic()
    r = client.post(
        f"/app/sites/{site.site_id}/pool/plans",
        data={"target": "0.9", "sizes": "1,3"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert time.monotonic() - began < 1.0  # the replays run after the answer
    deadline = time.monotonic() + 60
    page = client.get(f"/app/sites/{site.site_id}/pool")
    while 'id="plan-running"' in page.text and time.monotonic() < deadline:
        time.sleep(0.2)
        page = client.get(f"/app/sites/{site.site_id}/pool")
    assert 'id="recommendation"' in page.text, page.text
    assert "recorded sessions: 205 human visits" in page.text
    assert "<polyline" in page.text and '<table id="curve">' in page.text
    assert page.text.count("<tr><td>") >= 2
    assert "From 205 visits of the last 7 days: N = " in page.text
    assert "refresh" not in page.headers


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
