"""Hostile input to the API, the admin forms and the tracker that once answered 500 (or
changed data silently): each is a 4xx with a reason now, and nothing bad is stored."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from callpath import settings as settings_mod
from callpath.storage.tables import sites, tracking_numbers
from callpath.web.app import create_app
from tests.helpers import PASSWORD, Seeded, add_hook, add_login, api_headers, iso, log_in, seed_site

HUGE = "99999999999999999999"


@pytest.fixture
def app(engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    return create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1, domains=("shop.example",))


@pytest.fixture
def headers(engine: Engine, site: Seeded) -> dict[str, str]:
    return api_headers(engine, site, "owner")


@pytest.fixture
def client(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def browser(app, engine: Engine, site: Seeded) -> TestClient:  # type: ignore[no-untyped-def]
    """Logged in to /app as an owner."""
    client = TestClient(app, raise_server_exceptions=False)
    return log_in(client, add_login(engine, site, "owner", "a@shop.example"))  # type: ignore[no-any-return]


def _count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.mark.parametrize(
    "body",
    [
        '{"name": "x", "domains": ["a\\ud800.com"]}',
        '{"name": "x", "excluded_channels": ["\\udfff"]}',
        '{"name": "x", "domains": ["' + "a" * 300 + '.com"]}',
        '{"name": "x", "excluded_channels": ["' + "c" * 256 + '"]}',
    ],
)
def test_a_bad_list_item_is_refused_and_the_account_still_works(
    client: TestClient, engine: Engine, headers: dict[str, str], body: str
) -> None:
    before = _count(engine, sites)
    r = client.post(
        "/api/v1/sites", content=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert "error" in r.json()
    assert _count(engine, sites) == before
    assert client.get("/api/v1/sites", headers=headers).status_code == 200


def test_an_infinite_monthly_cost_is_refused(
    client: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    before = _count(engine, tracking_numbers)
    body = '{"number": "+74957770001", "kind": "pool", "monthly_cost": Infinity}'
    r = client.post(
        f"/api/v1/sites/{site.site_id}/numbers",
        content=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert _count(engine, tracking_numbers) == before


def test_a_negative_visit_code_is_not_a_code(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post("/api/v1/calls/c123/visit-code", json={"code": -4821}, headers=headers)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("origin", ["http://[::1", "http://[zz]:80"])
def test_a_malformed_origin_is_not_allowed(client: TestClient, site: Seeded, origin: str) -> None:
    body = json.dumps({"site": site.key, "url": "https://shop.example/"})
    r = client.post("/t/v1/session", content=body, headers={"Origin": origin})
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "origin not allowed for this site"
    ok = client.post("/t/v1/session", content=body, headers={"Origin": "https://shop.example"})
    assert ok.status_code == 200, ok.text


def test_a_malformed_origin_on_a_form_is_another_site(client: TestClient) -> None:
    login = {"email": "a@shop.example", "password": PASSWORD}
    r = client.post("/app/login", data=login, headers={"Origin": "http://[::1"})
    assert r.status_code == 403
    assert r.json()["error"] == "form posted from another site"


def test_a_form_too_large_is_refused_not_cut(browser: TestClient, engine: Engine) -> None:
    before = _count(engine, sites)
    form = {
        "name": "n" * 16_400,
        "timezone": "Asia/Tokyo",
        "default_destination": "+74951234567",
    }
    r = browser.post("/app/sites", data=form, follow_redirects=False)
    assert r.status_code == 413, r.text
    assert _count(engine, sites) == before


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/sites/{HUGE}/numbers",
        f"/api/v1/sites/{2**31}/numbers",  # past PostgreSQL's INTEGER
        f"/api/v1/calls?site_id={2**31}",
        f"/api/v1/numbers?site_id={HUGE}",
        f"/api/v1/calls?site_id={HUGE}",
        f"/api/v1/sessions?site_id=-{HUGE}",
        f"/api/v1/calls.csv?site={HUGE}",
        f"/api/v1/calls.csv?site_id={HUGE}",
        f"/api/v1/sites/{HUGE}/pool",
        f"/api/v1/sites/1/pool/plans/{HUGE}",
    ],
)
def test_ids_beyond_64_bits_are_a_422(
    client: TestClient, headers: dict[str, str], path: str
) -> None:
    r = client.get(path, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid request"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", f"/app/sites/{HUGE}"),
        ("get", f"/app/sites/{HUGE}/pool"),
        ("get", f"/app/calls?site={HUGE}"),
        ("get", f"/app/calls.csv?site={HUGE}"),
        ("post", f"/app/sites/{HUGE}/numbers"),
        ("post", f"/app/sites/{HUGE}/integrations"),
        ("post", f"/app/sites/{HUGE}/pool/plans"),
        ("post", f"/app/tokens/{HUGE}/revoke"),
    ],
)
def test_ids_beyond_64_bits_on_pages_are_a_422(browser: TestClient, method: str, path: str) -> None:
    r = getattr(browser, method)(path)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/calls", "/api/v1/sessions", "/api/v1/calls.csv", "/app/calls", "/app/calls.csv"],
)
def test_the_last_day_of_the_calendar_is_a_400(
    browser: TestClient, headers: dict[str, str], path: str
) -> None:
    r = browser.get(f"{path}?to=9999-12-31", headers=headers if path.startswith("/api") else {})
    assert r.status_code == 400, r.text
    assert "9999-12-31" in r.json()["error"]


def test_the_csv_takes_site_id_like_the_other_lists(
    client: TestClient, engine: Engine, site: Seeded, headers: dict[str, str]
) -> None:
    other = seed_site(engine, pool_size=0, account_id=site.account_id)
    hook = add_hook(engine, site)
    event = {
        "event": "started",
        "call_id": "csv-1",
        "caller": "+79161112233",
        "at": iso(time.time()),
    }
    assert hook.post(client, {**event, "called": site.default}).status_code < 300

    def rows(query: str) -> int:
        r = client.get(f"/api/v1/calls.csv?{query}", headers=headers)
        assert r.status_code == 200, r.text
        return len(r.text.strip().splitlines()) - 1

    deadline = time.monotonic() + 120  # generously: a busy machine is slow
    while rows("") < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rows(f"site_id={site.site_id}") == 1
    assert rows(f"site_id={other.site_id}") == 0
    assert rows(f"site={other.site_id}") == 0
    r = client.get(
        f"/api/v1/calls.csv?site_id={site.site_id}&site={other.site_id}", headers=headers
    )
    assert r.status_code == 400 and "different sites" in r.json()["error"]
