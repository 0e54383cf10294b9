"""Admin pages and the REST API: login, account scoping, bad input."""

from __future__ import annotations

import json
import re
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.services import accounts
from callpath.storage.db import transaction
from callpath.storage.tables import integrations
from callpath.web.app import create_app
from tests.helpers import Hook, Seeded, seed_site

PASSWORD = "correct horse battery"


@pytest.fixture
def app(engine: Engine, database_url: str):  # type: ignore[no-untyped-def]
    return create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))


def _user(engine: Engine, site: Seeded, email: str) -> None:
    with transaction(engine) as conn:
        accounts.create_user(conn, site.account_id, email, PASSWORD, "owner", time.time())


@pytest.fixture
def client(app, engine: Engine) -> TestClient:  # type: ignore[no-untyped-def]
    """Logged in as the owner of an account with one empty site."""
    _user(engine, seed_site(engine, pool_size=0, default=False), "me@shop.example")
    return _login(app, "me@shop.example")


def _login(app, email: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        "/app/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303, r.text
    return client


def test_pages_and_api_need_a_login(app) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/login"
    assert client.get("/app/sites/1", follow_redirects=False).status_code == 303
    r = client.get("/api/v1/sites")
    assert r.status_code == 401
    assert r.json() == {"error": "login or API token required"}


def test_wrong_password_is_refused(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    site = seed_site(engine, pool_size=1)
    _user(engine, site, "a@shop.example")
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/app/login", data={"email": "a@shop.example", "password": "nope"})
    assert r.status_code == 401
    assert "Wrong e-mail or password" in r.text


def test_accounts_cannot_see_each_other(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = seed_site(engine, pool_size=1), seed_site(engine, pool_size=1)
    _user(engine, mine, "me@shop.example")
    client = _login(app, "me@shop.example")
    assert [s["id"] for s in client.get("/api/v1/sites").json()["items"]] == [mine.site_id]
    listed = client.get(f"/api/v1/sites/{theirs.site_id}/numbers")
    assert listed.status_code == 404 and listed.json()["error"] == "no such site"
    r = client.post(
        f"/api/v1/sites/{theirs.site_id}/numbers", json={"number": "+74952229999", "kind": "pool"}
    )
    assert r.status_code == 404
    assert r.json()["error"] == "no such site"
    assert client.get(f"/app/sites/{theirs.site_id}").status_code == 404
    page = client.get(f"/app/sites/{mine.site_id}")
    assert page.status_code == 200
    assert mine.pool[0] in page.text
    assert theirs.pool[0] not in page.text


def test_api_creates_sites_and_numbers_with_clear_errors(client: TestClient) -> None:
    r = client.post(
        "/api/v1/sites",
        json={
            "name": "New",
            "original_numbers": ["8 495 109 63 76"],
            "default_destination": "8 495 109 63 76",
            "domains": ["new.example"],
        },
    )
    assert r.status_code == 201, r.text
    site_id = r.json()["id"]
    assert r.json()["original_numbers"] == ["+74951096376"]
    ok = client.post(
        f"/api/v1/sites/{site_id}/numbers", json={"number": "8 495 700 00 01", "kind": "pool"}
    )
    assert ok.status_code == 201
    assert ok.json()["e164"] == "+74957000001"
    dup = client.post(
        f"/api/v1/sites/{site_id}/numbers", json={"number": "+74957000001", "kind": "pool"}
    )
    assert dup.status_code == 400
    assert "already" in dup.json()["error"]
    bad = client.post("/api/v1/sites", json={"name": "X", "hold_after_leave": 1})
    assert bad.status_code == 400
    assert "hold_after_leave" in bad.json()["error"]
    junk = client.post(f"/api/v1/sites/{site_id}/numbers", json={"number": "1", "kind": "x"})
    assert junk.status_code == 422
    assert "kind" in junk.json()["details"][0]


def test_logout_ends_the_login(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    site = seed_site(engine, pool_size=1)
    _user(engine, site, "me@shop.example")
    client = _login(app, "me@shop.example")
    client.post("/app/logout", follow_redirects=False)
    assert client.get("/api/v1/sites").status_code == 401


def test_pages_add_sites_and_numbers_with_errors_shown(client: TestClient) -> None:
    r = client.post(
        "/app/sites",
        data={
            "name": "Flowers",
            "domains": "flowers.example",
            "original": "8 495 109 63 77",
            "default_destination": "8 495 109 63 77",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    site_url = r.headers["location"]
    bad = client.post(site_url + "/numbers", data={"number": "12", "kind": "pool"})
    assert bad.status_code == 400
    assert "not a" in bad.text and 'value="12"' in bad.text
    ok = client.post(
        site_url + "/numbers",
        data={"number": "8 495 700 00 02", "kind": "static", "label": "Flyer <b>"},
        follow_redirects=True,
    )
    assert ok.status_code == 200
    assert "+74957000002" in ok.text
    assert "Flyer &lt;b&gt;" in ok.text
    junk = client.post("/app/sites", data={"name": "X", "timezone": "Mars/Base"})
    assert junk.status_code == 400 and "timezone" in junk.text


def test_forms_posted_from_another_site_are_refused(client: TestClient) -> None:
    r = client.post("/app/sites", data={"name": "Evil"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_api_errors_are_json_with_a_reason(app) -> None:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    deep = client.post(
        "/api/v1/sites",
        content="[" * 50_000 + "]" * 50_000,
        headers={"content-type": "application/json"},
    )
    assert deep.status_code == 400
    assert "error" in deep.json()
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}


def test_nul_characters_are_refused_not_stored(client: TestClient) -> None:
    api = client.post("/api/v1/sites", json={"name": "a\u0000b"})
    assert api.status_code == 422
    assert "NUL" in api.json()["details"][0]
    form = client.post("/app/sites", data={"name": "a\u0000b"})
    assert form.status_code == 400
    assert "NUL" in form.json()["error"]


def _kinds(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(integrations.c.kind, integrations.c.name)).all()
    return sorted((r.kind, r.name) for r in rows)


def test_site_page_adds_a_provider_integration(client: TestClient, engine: Engine) -> None:
    site_id = client.get("/api/v1/sites").json()["items"][0]["id"]
    sip = client.post(f"/app/sites/{site_id}/integrations", data={"name": "Edge", "kind": "sip"})
    assert sip.status_code == 200
    assert re.search(r"/hooks/sip/route\?integration=int_[0-9a-f]+", sip.text)
    token = "a" * 32
    twilio = {"name": "Twilio", "kind": "twilio", "secret": token}
    assert client.post(f"/app/sites/{site_id}/integrations", data=twilio).status_code == 200
    assert _kinds(engine) == [("sip", "Edge"), ("twilio", "Twilio")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "Twilio", "kind": "twilio"}, "needs the provider&#39;s secret"),
        ({"name": "Hook", "kind": "generic", "secret": "b" * 32}, "makes its own secret"),
        ({"name": "Fax", "kind": "fax<script>"}, "kind must be one of"),
    ],
)
def test_site_page_refuses_a_bad_integration(
    client: TestClient, engine: Engine, data: dict[str, str], reason: str
) -> None:
    site_id = client.get("/api/v1/sites").json()["items"][0]["id"]
    answer = client.post(f"/app/sites/{site_id}/integrations", data=data)
    assert answer.status_code == 400
    assert reason in answer.text and "<script>" not in answer.text
    assert f'value="{data["name"]}"' in answer.text  # the form kept as typed
    assert data.get("secret", "\x00") not in answer.text  # a secret is never echoed
    assert _kinds(engine) == []


def test_site_page_adds_an_integration_and_shows_its_secret_once(
    client: TestClient, engine: Engine
) -> None:
    site_id = client.get("/api/v1/sites").json()["items"][0]["id"]
    made = client.post(f"/app/sites/{site_id}/integrations", data={"name": "Office PBX"})
    assert made.status_code == 200
    secret = re.search(r'id="new-secret">([0-9a-f]{64})<', made.text)
    url = re.search(r"/hooks/generic/(int_[0-9a-f]+)", made.text)
    assert secret and url
    page = client.get(f"/app/sites/{site_id}").text
    assert "Office PBX" in page and url.group(1) in page
    assert secret.group(1) not in page
    body = json.dumps({"event": "started", "call_id": "1", "at": 1.8e9, "called": "+74950000000"})
    hook = Hook(url.group(1), secret.group(1))
    assert hook.post(client, json.loads(body)).status_code == 200
