"""The site page: a pool number's state as the allocator sees it, and where each kind of
integration talks to callpath."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath import settings as settings_mod
from callpath.domain.pool import PoolSettings
from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import tracking_numbers
from callpath.web.app import create_app
from tests.helpers import Seeded, add_login, log_in, seed_site


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=3, pool=PoolSettings(cooldown=600))


@pytest.fixture
def client(engine: Engine, database_url: str, site: Seeded) -> TestClient:
    app = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))
    client = TestClient(app, raise_server_exceptions=False)
    return log_in(client, add_login(engine, site, "owner"))  # type: ignore[no-any-return]


def _held_until(engine: Engine, e164: str, moment: float) -> None:
    with transaction(engine) as conn:
        conn.execute(
            update(tracking_numbers)
            .where(tracking_numbers.c.e164 == e164)
            .values(held_until=moment, held_visitor_id="v1")
        )


def test_a_number_in_its_cooldown_is_resting_not_free(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    now = time.time()
    _held_until(engine, site.pool[0], now + 120)  # held
    _held_until(engine, site.pool[1], now - 100)  # released 100 s ago: 500 s of rest left
    _held_until(engine, site.pool[2], now - 700)  # rested out: free
    page = client.get(f"/app/sites/{site.site_id}").text
    rows = {n: page.split(f'<td data-e164="{n}">', 1)[1].split("</tr>", 1)[0] for n in site.pool}
    assert "held, 1" in rows[site.pool[0]]
    assert "resting (cooldown), 49" in rows[site.pool[1]]
    assert "<td>free</td>" in rows[site.pool[2]]


def test_each_integration_shows_where_it_talks_to_callpath(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    made = {}
    with transaction(engine) as conn:
        for kind in ("generic", "sip", "asterisk"):
            made[kind] = setup.create_integration(
                conn, site.account_id, site.site_id, kind, f"{kind} PBX", time.time()
            ).id
    page = client.get(f"/app/sites/{site.site_id}").text
    assert f"/hooks/generic/{made['generic']}</code>" in page
    assert f"/hooks/sip/route?integration={made['sip']} and " in page
    assert f"/hooks/sip/{made['sip']}" not in page
    assert f"callpath asterisk listen --integration {made['asterisk']}" in page
    assert f"/hooks/asterisk/{made['asterisk']}" not in page


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/app/calls?number=xyz", 400, "xyz"),
        ("/app/calls?from=2026-13-45", 400, "2026-13-45"),
        ("/app/sites/abc", 422, "site_id"),
        ("/app/sites/999999", 404, "no such site"),
        ("/app/nonexistent", 404, "Not Found"),
    ],
)
def test_a_browser_gets_an_error_page_not_json(
    client: TestClient, path: str, status: int, says: str
) -> None:
    page = client.get(path, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="error"' in page.text and says in page.text
    assert '<a href="/app/calls">Calls</a>' in page.text
    api = client.get(path)  # a script (no text/html in Accept) still gets JSON
    assert api.status_code == status and "error" in api.json()


def test_the_csv_and_the_api_keep_json_errors(client: TestClient) -> None:
    html = {"Accept": "text/html"}
    for path in ("/app/calls.csv?number=xyz", "/api/v1/calls?number=xyz"):
        r = client.get(path, headers=html)
        assert r.status_code == 400 and "xyz" in r.json()["error"]


def test_a_static_number_gets_its_channel_from_the_form(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    form = {
        "number": "+74957770077",
        "kind": "static",
        "source": "billboard",
        "medium": "offline",
        "campaign": "spring",
    }
    r = client.post(f"/app/sites/{site.site_id}/numbers", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    with engine.connect() as conn:
        row = conn.execute(
            select(
                tracking_numbers.c.channel_source,
                tracking_numbers.c.channel_medium,
                tracking_numbers.c.channel_campaign,
            ).where(tracking_numbers.c.e164 == "+74957770077")
        ).one()
    assert tuple(row) == ("billboard", "offline", "spring")


def test_the_api_docs_need_no_cdn(client: TestClient) -> None:
    """Self-hosted installs may have no internet: /docs loads Swagger UI from callpath."""
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-static/swagger-ui-bundle.js" in page.text
    assert "cdn." not in page.text and "https://" not in page.text.split("<body>", 1)[-1]
    script = client.get("/docs-static/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert client.get("/openapi.json").json()["info"]["title"] == "callpath"


def test_the_sites_list_is_found_at_app_sites_too(client: TestClient, site: Seeded) -> None:
    """/app/sites takes the form that adds a site; typed in, it leads to the list."""
    answer = client.get("/app/sites", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    page = client.get("/app/sites", headers={"Accept": "text/html"})
    assert page.status_code == 200 and str(page.url).endswith("/app")
    assert "Test site" in page.text
    logged_out = TestClient(client.app).get("/app/sites")  # then to the login, as /app does
    assert logged_out.status_code == 200 and str(logged_out.url).endswith("/app/login")
