"""The pool over the REST API: live state, plans started, listed and read; a plan whose
process died reads as failed and lets the next one start."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath import settings as settings_mod
from callpath.planner.run import Params
from callpath.storage import plan_repo
from callpath.storage.db import transaction
from callpath.storage.tables import pool_plans
from callpath.web.app import create_app
from callpath.workers import planning
from tests.helpers import Seeded, add_login, api_headers, log_in, seed_site, wait_for
from tests.integration.test_planner_cli import record


@pytest.fixture
def client(engine: Engine, database_url: str) -> TestClient:
    app = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=3)


def _token(engine: Engine, site: Seeded) -> dict[str, str]:
    """An API token (made by an admin: tokens act for the account)."""
    return api_headers(engine, site, "admin")


def _wait(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, object]:
    """The plan once it is no longer running (generously: a busy machine replays slowly)."""

    def finished() -> dict[str, object] | None:
        plan: dict[str, object] = client.get(url, headers=headers).json()
        return None if plan["status"] == "running" else plan

    found: dict[str, object] = wait_for(finished, seconds=600)
    return found


def test_the_pool_state_is_the_pages(client: TestClient, engine: Engine, site: Seeded) -> None:
    headers = _token(engine, site)
    r = client.get(f"/api/v1/sites/{site.site_id}/pool", headers=headers)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["utilisation"] == {
        "numbers": 3,
        "visible": 0,
        "after_leave": 0,
        "resting": 0,
        "free": 3,
    }
    assert state["by_group"] == [{"group": None, **state["utilisation"]}]
    assert len(state["exhausted_by_day"]) == 14
    assert all(day["visits"] == 0 for day in state["exhausted_by_day"])
    assert state["recorded_visits"] == 0 and state["erlang"] is None
    assert state["latest_plan"] is None


def test_a_plan_runs_in_the_background_and_is_read_back(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    record(engine, site, humans=205)
    headers = _token(engine, site)
    base = f"/api/v1/sites/{site.site_id}/pool"
    r = client.post(f"{base}/plans", json={"target": 0.9, "sizes": [1, 3]}, headers=headers)
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["status"] == "running" and started["params"]["sizes"] == [1, 3]
    plan = _wait(client, f"{base}/plans/{started['id']}", headers)
    assert plan["status"] == "done", plan
    result = plan["result"]
    assert isinstance(result, dict)
    assert result["source"] == "recorded" and result["sessions"] == 205
    assert [p["size"] for p in result["points"]] == [1, 3]
    assert plan["recommended"] == result["recommended"]
    assert plan["finished_at"] is not None
    listed = client.get(f"{base}/plans", headers=headers).json()
    assert [p["id"] for p in listed["items"]] == [started["id"]]
    assert listed["next_cursor"] is None
    state = client.get(base, headers=headers).json()
    assert state["latest_plan"]["id"] == started["id"]
    assert state["recorded_visits"] == 205 and state["erlang"]["numbers"] >= 1


def test_plans_page_newest_first(client: TestClient, engine: Engine, site: Seeded) -> None:
    now = time.time()
    with transaction(engine) as conn:
        ids = [
            plan_repo.save_done(conn, site.account_id, site.site_id, {}, {}, now + i, now + i)
            for i in range(3)
        ]
    headers, url = _token(engine, site), f"/api/v1/sites/{site.site_id}/pool/plans"
    first = client.get(url, params={"limit": 2}, headers=headers).json()
    assert [p["id"] for p in first["items"]] == ids[:0:-1]
    rest = client.get(url, params={"cursor": first["next_cursor"]}, headers=headers).json()
    assert [p["id"] for p in rest["items"]] == ids[:1] and rest["next_cursor"] is None
    assert client.get(url, params={"cursor": "x'"}, headers=headers).status_code == 400


def test_one_plan_at_a_time(client: TestClient, engine: Engine, site: Seeded) -> None:
    with transaction(engine) as conn:
        plan_repo.start(conn, site.account_id, site.site_id, {"target": 0.95}, time.time())
    r = client.post(
        f"/api/v1/sites/{site.site_id}/pool/plans", json={}, headers=_token(engine, site)
    )
    assert r.status_code == 409 and "already running" in r.json()["error"]


def test_a_plan_whose_process_died_reads_failed_and_the_next_may_start(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    long_ago = time.time() - plan_repo.STALE_SECONDS - 5
    with transaction(engine) as conn:
        dead = plan_repo.start(conn, site.account_id, site.site_id, {"target": 0.95}, long_ago)
    headers, base = _token(engine, site), f"/api/v1/sites/{site.site_id}/pool"
    plan = client.get(f"{base}/plans/{dead}", headers=headers).json()
    assert plan["status"] == "failed" and "abandoned" in plan["error"]
    assert client.get(base, headers=headers).json()["latest_plan"]["status"] == "failed"
    r = client.post(f"{base}/plans", json={"sizes": [1]}, headers=headers)
    assert r.status_code == 202, r.text
    assert _wait(client, f"{base}/plans/{r.json()['id']}", headers)["status"] == "done"
    with engine.connect() as conn:
        stored = conn.execute(select(pool_plans.c.status).where(pool_plans.c.id == dead))
        assert stored.scalar_one() == "failed"


def test_a_live_plan_beats_and_stays_running(engine: Engine, site: Seeded) -> None:
    """The heartbeat keeps a long plan from reading as abandoned; it writes only every
    BEAT_SECONDS, not on every progress step."""
    began = time.time() - 10 * plan_repo.STALE_SECONDS
    with transaction(engine) as conn:
        plan_id = plan_repo.start(conn, site.account_id, site.site_id, {}, began)
    assert plan_id is not None
    now = [time.time()]
    beat = planning.Heartbeat(engine, site.account_id, plan_id, lambda: now[0])
    beat(1, 1000, 5000)

    def alive_at() -> float:
        with engine.connect() as conn:
            found = conn.execute(select(pool_plans.c.alive_at).where(pool_plans.c.id == plan_id))
            return float(found.scalar_one())

    assert alive_at() == began  # too soon after the last beat
    now[0] += planning.BEAT_SECONDS
    beat(1, 2000, 5000)
    assert alive_at() == now[0]
    with transaction(engine, write=False) as conn:
        row = plan_repo.latest(conn, site.account_id, site.site_id)
    shown = plan_repo.present(row, now[0] + 1)
    assert shown is not None and shown["status"] == "running"


def test_a_plan_declared_abandoned_that_finishes_keeps_its_result(
    engine: Engine, site: Seeded
) -> None:
    with transaction(engine) as conn:
        plan_id = plan_repo.start(conn, site.account_id, site.site_id, {}, time.time())
        assert plan_id is not None
        conn.execute(
            update(pool_plans)
            .where(pool_plans.c.id == plan_id)
            .values(status="failed", error=plan_repo.ABANDONED)
        )
    planning.compute(engine, site.account_id, site.site_id, plan_id, Params(sizes=(1,)))
    with engine.connect() as conn:
        row = conn.execute(select(pool_plans).where(pool_plans.c.id == plan_id)).one()
    assert row.status == "done" and row.result["points"][0]["size"] == 1


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"target": 1.5}, 422, "target"),
        ({"days": 0}, 422, "days"),
        ({"sizes": [4, "five"]}, 422, "sizes"),
        ({"sizes": [200_000]}, 422, "sizes"),
        ({"visits_per_day": -1}, 422, "visits_per_day"),
        ({"target": "\u0000"}, 422, "target"),
        # booleans and numbers in strings are not numbers
        ({"target": True}, 422, "target"),
        ({"days": True}, 422, "days"),
        ({"visits_per_day": True}, 422, "visits_per_day"),
        ({"sizes": [True, 2]}, 422, "sizes"),
        ({"days": "7"}, 422, "days"),
        ({"sizes": [2.5]}, 422, "sizes"),
        # numbers outside sensible ranges: the tiny rate once overflowed the generator
        ({"visits_per_day": 8e-269}, 422, "visits_per_day"),
        ({"target": 8e-269}, 422, "target"),
        ({"days": 8e-269}, 422, "days"),
        ({"target": 0.9999999}, 422, "target"),
        ({"visits_per_day": 1e308}, 422, "visits_per_day"),
        ({"visits_per_day": 20_000, "days": 7}, 400, "visits per day times days"),
    ],
)
def test_bad_plan_parameters(
    client: TestClient,
    engine: Engine,
    site: Seeded,
    body: dict[str, object],
    status: int,
    reason: str,
) -> None:
    r = client.post(
        f"/api/v1/sites/{site.site_id}/pool/plans", json=body, headers=_token(engine, site)
    )
    assert r.status_code == status, r.text
    assert reason in r.text
    with engine.connect() as conn:
        assert conn.execute(select(pool_plans.c.id)).first() is None


def test_roles_and_accounts(client: TestClient, engine: Engine, site: Seeded) -> None:
    operator = TestClient(client.app, raise_server_exceptions=False)
    log_in(operator, add_login(engine, site, "operator"))
    base = f"/api/v1/sites/{site.site_id}/pool"
    r = operator.post(f"{base}/plans", json={})
    assert r.status_code == 403 and "analysts" in r.json()["error"]
    assert operator.get(base).status_code == 200
    theirs = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        their_plan = plan_repo.save_done(
            conn, theirs.account_id, theirs.site_id, {}, {}, time.time(), time.time()
        )
    mine = _token(engine, site)
    for url in (
        f"/api/v1/sites/{theirs.site_id}/pool",
        f"/api/v1/sites/{theirs.site_id}/pool/plans",
        f"/api/v1/sites/{theirs.site_id}/pool/plans/{their_plan}",
        f"{base}/plans/{their_plan}",
    ):
        r = client.get(url, headers=mine)
        assert r.status_code == 404, url
        assert "no such" in r.json()["error"]
    r = client.post(f"/api/v1/sites/{theirs.site_id}/pool/plans", json={}, headers=mine)
    assert r.status_code == 404
    assert client.get(base).status_code == 401


def test_non_finite_numbers_are_refused(client: TestClient, engine: Engine, site: Seeded) -> None:
    """Python's JSON reader takes NaN and Infinity; they are not numbers of a plan."""
    url, headers = f"/api/v1/sites/{site.site_id}/pool/plans", _token(engine, site)
    for raw in ('{"days": NaN}', '{"target": Infinity}', '{"visits_per_day": -Infinity}'):
        r = client.post(url, content=raw, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 422, (raw, r.text)
        assert "finite" in r.text or "number" in r.text
    with engine.connect() as conn:
        assert conn.execute(select(pool_plans.c.id)).first() is None


def test_the_server_computes_at_most_two_plans_at_once(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    """Plans of other sites hold the process's slots: a third plan, of any site, is refused
    with a reason and leaves no row; once a slot is free it starts."""
    headers, url = _token(engine, site), f"/api/v1/sites/{site.site_id}/pool/plans"
    held = 0
    try:
        while planning.SLOTS.take():  # as two plans computing for other sites do
            held += 1
        assert held == planning.MAX_RUNNING == 2
        r = client.post(url, json={"sizes": [1]}, headers=headers)
        assert r.status_code == 429, r.text
        assert "2 pool plans are being computed on this server already" in r.json()["error"]
        with engine.connect() as conn:
            assert conn.execute(select(pool_plans.c.id)).first() is None
        planning.SLOTS.give_back()
        held -= 1
        r = client.post(url, json={"sizes": [1]}, headers=headers)
        assert r.status_code == 202, r.text
        assert _wait(client, f"{url}/{r.json()['id']}", headers)["status"] == "done"
        # the finished plan gave its slot back: one is free again
        wait_for(lambda: planning.SLOTS.taken == held)
    finally:
        for _ in range(held):
            planning.SLOTS.give_back()


def test_a_plan_refused_for_its_site_or_failing_gives_its_slot_back(
    engine: Engine, site: Seeded
) -> None:
    slots = planning.Slots(1)
    with transaction(engine) as conn:
        plan_repo.start(conn, site.account_id, site.site_id, {}, time.time())
    assert planning.launch(engine, site.account_id, site.site_id, Params(), slots) is None
    assert slots.taken == 0
    other = seed_site(engine, pool_size=1)
    gone = seed_site(engine, pool_size=0)
    # a plan whose site is not the account's fails in its thread and frees its slot
    plan_id = planning.launch(engine, other.account_id, gone.site_id, Params(), slots)
    assert plan_id is not None
    wait_for(lambda: slots.taken == 0, seconds=120)
    with engine.connect() as conn:
        row = conn.execute(select(pool_plans).where(pool_plans.c.id == plan_id)).one()
    assert row.status == "failed" and "the site is gone" in row.error
    with pytest.raises(planning.Busy):
        slots.take()
        planning.launch(engine, other.account_id, other.site_id, Params(), slots)
    slots.give_back()
