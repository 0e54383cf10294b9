"""Retiring a number and disabling an integration, from the CLI, the admin and the API:
a retired number is shown to no new visitor, yet calls to it still get through and still
match the visit it was shown to; a disabled integration's events are refused."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app as cli_app
from callpath.services import calls, tracking
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import calls as calls_table
from callpath.storage.tables import tracking_numbers
from callpath.web.app import create_app
from tests.helpers import (
    Clock,
    Seeded,
    add_hook,
    add_login,
    add_number,
    api_headers,
    iso,
    log_in,
    seed_site,
)

runner = CliRunner()


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=2, statics=("Flyer",))


@pytest.fixture
def client(engine: Engine, database_url: str) -> TestClient:
    app = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))
    return TestClient(app, raise_server_exceptions=False)


def _cli(args: list[str], env: dict[str, str], code: int = 0) -> str:
    result = runner.invoke(cli_app, args, env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def _login(client: TestClient, engine: Engine, site: Seeded, role: str) -> None:
    log_in(client, add_login(engine, site, role))


def _shown(engine: Engine, site: Seeded, clock: Clock, visits: int) -> set[str]:
    with engine.connect() as conn:
        config = load_site_config(conn, site_id=site.site_id)
    assert config is not None
    got = set()
    for _ in range(visits):
        visit = tracking.Visit(url="https://shop.example/?utm_source=vk&utm_medium=social")
        got.add(tracking.start_session(engine, config, visit, clock).number)
        clock.advance(5)
    return got


def _active(engine: Engine, e164: str) -> bool:
    with engine.connect() as conn:
        n = tracking_numbers.c
        return bool(conn.execute(select(n.active).where(n.e164 == e164)).scalar_one())


def test_a_retired_number_is_shown_to_nobody_new_but_its_calls_get_through_and_match(
    engine: Engine, env: dict[str, str], site: Seeded, client: TestClient
) -> None:
    clock = Clock(time.time())
    first = _shown(engine, site, clock, 1).pop()  # a visit holds it
    with engine.connect() as conn:
        number_id = conn.execute(
            select(tracking_numbers.c.id).where(tracking_numbers.c.e164 == first)
        ).scalar_one()
    listed = _cli(["number", "list", "--site", str(site.site_id)], env)
    assert f"{first}\tpool\tactive" in listed and "static\tactive\tFlyer/offline" in listed
    assert "retired" in _cli(["number", "retire", "--site", str(site.site_id), first], env)
    assert f"{first}\tpool\tretired" in _cli(["number", "list", "--site", str(site.site_id)], env)
    assert first not in _shown(engine, site, clock, 6)  # new visitors get the other / default
    hook = add_hook(engine, site)
    event = {"event": "started", "call_id": "r1", "at": iso(clock()), "caller": "+79160000001"}
    answer = hook.post(client, {**event, "called": first})
    assert answer.status_code == 200, answer.text
    assert answer.json()["forward_to"] == site.original  # the site's default destination
    calls.apply(engine, calls.call_key(hook.integration_id, "r1"), clock)
    with engine.connect() as conn:
        call = conn.execute(select(calls_table).where(calls_table.c.number_id == number_id)).one()
    assert call.match_method == "pool" and call.session_id is not None
    assert "active again" in _cli(["number", "activate", "--site", str(site.site_id), first], env)
    assert _active(engine, first)


def test_a_site_is_named_by_its_id_or_its_key(env: dict[str, str], site: Seeded) -> None:
    added = _cli(["number", "add", "--site", site.key, "--kind", "pool", "+74957000123"], env)
    assert f"added to site {site.site_id}" in added
    by_key = _cli(["number", "list", "--site", site.key], env)
    assert by_key == _cli(["number", "list", "--site", str(site.site_id)], env)
    assert "+74957000123\tpool\tactive" in by_key
    assert "no site nokey" in _cli(["number", "list", "--site", "nokey"], env, code=2)


def test_bad_number_commands_are_messages(env: dict[str, str], site: Seeded) -> None:
    unknown = "+74957000999"
    args = ["number", "retire", "--site", str(site.site_id)]
    assert "is not a number of site" in _cli([*args, unknown], env, code=2)
    assert "is not a phone number" in _cli([*args, "twelve"], env, code=2)
    assert "no site 9999" in _cli(["number", "retire", "--site", "9999", unknown], env, code=2)


def test_the_admin_retires_and_brings_back(
    engine: Engine, site: Seeded, client: TestClient
) -> None:
    _login(client, engine, site, "owner")
    with engine.connect() as conn:
        n = tracking_numbers.c
        number_id = conn.execute(select(n.id).where(n.e164 == site.pool[0])).scalar_one()
    url = f"/app/sites/{site.site_id}/numbers/{number_id}/active"
    r = client.post(url, data={"active": "0", "confirm": "1"}, follow_redirects=False)
    assert r.status_code == 303 and not _active(engine, site.pool[0])
    page = client.get(f"/app/sites/{site.site_id}").text
    row = page.split(f'<td data-e164="{site.pool[0]}">', 1)[1].split("</tr>", 1)[0]
    assert "retired" in row and "Bring back" in row
    assert client.post(url, data={"active": "1"}, follow_redirects=False).status_code == 303
    assert _active(engine, site.pool[0])
    theirs = seed_site(engine, pool_size=1)
    with engine.connect() as conn:
        their_id = conn.execute(select(n.id).where(n.e164 == theirs.pool[0])).scalar_one()
    for path in (
        f"/app/sites/{site.site_id}/numbers/{their_id}/active",
        f"/app/sites/{theirs.site_id}/numbers/{their_id}/active",
    ):
        assert client.post(path, data={"active": "0"}).status_code == 404
    assert _active(engine, theirs.pool[0])


def test_operators_cannot_retire(engine: Engine, site: Seeded, client: TestClient) -> None:
    _login(client, engine, site, "operator")
    with engine.connect() as conn:
        n = tracking_numbers.c
        number_id = conn.execute(select(n.id).where(n.e164 == site.pool[0])).scalar_one()
    r = client.post(f"/app/sites/{site.site_id}/numbers/{number_id}/active", data={"active": "0"})
    assert r.status_code == 400 and "only owners and admins" in r.text
    assert _active(engine, site.pool[0])


@pytest.mark.parametrize("role", ["operator", "analyst"])
def test_only_owners_and_admins_add_sites_and_numbers(
    engine: Engine, site: Seeded, client: TestClient, role: str
) -> None:
    """Operators and analysts see the sites but get no forms to change them, and the
    server refuses what they post anyway: the pages, and the API with their login."""
    _login(client, engine, site, role)
    number = {"number": "+74957000777", "kind": "pool"}
    new_site = {"name": "Shop 2", "default_destination": "+74951234567"}
    assert client.post("/api/v1/sites", json=new_site).status_code == 403
    r = client.post(f"/api/v1/sites/{site.site_id}/numbers", json=number)
    assert r.status_code == 403 and "only owners" in r.json()["error"]
    r = client.post("/app/sites", data=new_site, follow_redirects=False)
    assert r.status_code == 403 and "only owners and admins add sites" in r.text
    r = client.post(f"/app/sites/{site.site_id}/numbers", data=number, follow_redirects=False)
    assert r.status_code == 400 and "only owners and admins add numbers" in r.text
    with engine.connect() as conn:
        n = tracking_numbers.c
        assert conn.execute(select(n.id).where(n.e164 == number["number"])).first() is None
    assert "Shop 2" not in client.get("/app").text
    page = client.get(f"/app/sites/{site.site_id}").text
    assert site.pool[0] in page  # the page itself is theirs to read
    assert "Add number" not in page and "Retire" not in page and "Add integration" not in page
    assert "Add site" not in client.get("/app").text
    log_in(client, add_login(engine, site, "admin"))
    assert "Add number" in client.get(f"/app/sites/{site.site_id}").text
    assert "Add site" in client.get("/app").text
    r = client.post(f"/app/sites/{site.site_id}/numbers", data=number, follow_redirects=False)
    assert r.status_code == 303


def test_the_api_retires_a_number_and_a_default_comes_back_alone(
    engine: Engine, site: Seeded, client: TestClient
) -> None:
    headers = api_headers(engine, site, "admin")
    add_number(engine, site, "+74957000555", "default")
    with engine.connect() as conn:
        n = tracking_numbers.c
        old_default = conn.execute(select(n.id).where(n.e164 == site.default)).scalar_one()
    assert not _active(engine, str(site.default))  # the new default retired the old one
    r = client.patch(f"/api/v1/numbers/{old_default}", json={"active": True}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["active"] is True and r.json()["e164"] == site.default
    assert not _active(engine, "+74957000555")  # one default at a time
    theirs = seed_site(engine, pool_size=1)
    with engine.connect() as conn:
        their_id = conn.execute(select(n.id).where(n.e164 == theirs.pool[0])).scalar_one()
    r = client.patch(f"/api/v1/numbers/{their_id}", json={"active": False}, headers=headers)
    assert r.status_code == 404 and _active(engine, theirs.pool[0])
    bad = client.patch(f"/api/v1/numbers/{old_default}", json={"active": "maybe"}, headers=headers)
    assert bad.status_code == 422


def test_a_disabled_integration_is_refused_until_enabled(
    engine: Engine, env: dict[str, str], site: Seeded, client: TestClient
) -> None:
    hook = add_hook(engine, site)
    event = {"event": "started", "at": iso(time.time()), "called": site.pool[0]}
    assert f"{hook.integration_id}\tgeneric" in _cli(["integration", "list"], env)
    for given in (str(site.site_id), site.key):  # a site by its id or its key
        assert hook.integration_id in _cli(["integration", "list", "--site", given], env)
    assert "nosuch" in _cli(["integration", "list", "--site", "nosuch"], env, code=2)
    assert "disabled" in _cli(["integration", "disable", hook.integration_id], env)
    r = hook.post(client, {**event, "call_id": "d1"})
    assert r.status_code == 401 and "disabled" in r.json()["error"]
    assert "enabled" in _cli(["integration", "enable", hook.integration_id], env)
    assert hook.post(client, {**event, "call_id": "d2"}).status_code == 200
    assert "no integration" in _cli(["integration", "disable", "int_nope"], env, code=2)
    _login(client, engine, site, "admin")
    url = f"/app/sites/{site.site_id}/integrations/{hook.integration_id}/active"
    off = {"active": "0", "confirm": "1"}
    assert client.post(url, data=off, follow_redirects=False).status_code == 303
    page = client.get(f"/app/sites/{site.site_id}").text
    assert "disabled" in page and ">Enable</button>" in page
    body = json.dumps({**event, "call_id": "d3"})
    assert (
        client.post(hook.path, content=body, headers=hook.headers(body.encode())).status_code == 401
    )
