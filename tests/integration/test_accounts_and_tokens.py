"""Accounts cannot reach each other's data through the API (bearer tokens or login) or
the pages; tokens are stored hashed, shown once, and can be revoked."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.domain.phone import display
from callpath.services import accounts, auth
from callpath.storage.db import transaction
from callpath.storage.tables import api_tokens
from callpath.web.app import create_app
from tests.helpers import Seeded, add_hook, iso, seed_site

PASSWORD = "correct horse battery"


@dataclass
class Tenant:
    site: Seeded
    email: str
    token: str
    session: str
    call: str
    caller: str


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path)}
    return create_app(settings_mod.load(env))


def _tenant(app, engine: Engine, n: int, role: str = "owner") -> Tenant:  # type: ignore[no-untyped-def]
    site = seed_site(engine, pool_size=1, statics=(f"Flyer{n}",))
    email = f"user{n}@shop{n}.example"
    with transaction(engine) as conn:
        user_id = accounts.create_user(conn, site.account_id, email, PASSWORD, role, time.time())
        who = auth.Principal(user_id, site.account_id, email, role)
        token = auth.create_token(conn, who, "tests", time.time())
    client = TestClient(app)
    visit = client.post(
        "/t/v1/session",
        content=json.dumps({"site": site.key, "url": f"https://shop{n}.example/?utm_source=s{n}"}),
    ).json()
    hook = add_hook(engine, site)
    caller = f"+7916555000{n}"
    body = {
        "event": "started",
        "call_id": f"t{n}",
        "at": iso(time.time()),
        "caller": caller,
        "called": visit["number"],
    }
    call = hook.post(client, body).json()["call"]
    return Tenant(site, email, token, visit["session"], call, caller)


def _bearer(app, token: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _login(app, email: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        "/app/login", data={"email": email, "password": PASSWORD}, follow_redirects=False
    )
    assert r.status_code == 303
    return client


def _items(client: TestClient, path: str) -> list[dict[str, object]]:
    r = client.get(path)
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


@pytest.mark.parametrize("via", ["token", "login"])
def test_api_shows_and_changes_only_the_callers_account(app, engine: Engine, via: str) -> None:  # type: ignore[no-untyped-def]
    a, b = _tenant(app, engine, 1), _tenant(app, engine, 2)
    client = _bearer(app, a.token) if via == "token" else _login(app, a.email)
    assert [s["id"] for s in _items(client, "/api/v1/sites")] == [a.site.site_id]
    numbers = {n["e164"] for n in _items(client, "/api/v1/numbers")}
    assert a.site.pool[0] in numbers and not numbers & {*b.site.pool, *b.site.static.values()}
    assert _items(client, f"/api/v1/numbers?site_id={b.site.site_id}") == []
    theirs = client.get(f"/api/v1/sites/{b.site.site_id}/numbers")
    assert theirs.status_code == 404 and theirs.json()["error"] == "no such site"
    assert [s["id"] for s in _items(client, "/api/v1/sessions")] == [a.session]
    assert _items(client, f"/api/v1/sessions?site_id={b.site.site_id}") == []
    assert [c["id"] for c in _items(client, "/api/v1/calls")] == [a.call]
    assert client.get(f"/api/v1/calls/{b.call}").status_code == 404
    assert client.get(f"/api/v1/calls/{a.call}").status_code == 200
    export = client.get("/api/v1/calls.csv")
    assert a.call in export.text and b.call not in export.text
    r = client.post(
        f"/api/v1/sites/{b.site.site_id}/numbers", json={"number": "+74952229999", "kind": "pool"}
    )
    assert r.status_code == 404


def test_pages_show_only_the_callers_account(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    a, b = _tenant(app, engine, 1), _tenant(app, engine, 2)
    client = _login(app, a.email)
    journal = client.get("/app/calls")
    assert a.call in journal.text and b.call not in journal.text
    assert b.caller not in journal.text and display(b.caller) not in journal.text
    assert client.get(f"/app/calls/{b.call}").status_code == 404
    assert client.get(f"/app/calls?site={b.site.site_id}").text.count('class="call"') == 0
    csv = client.get("/app/calls.csv")
    assert a.call in csv.text and b.call not in csv.text
    assert client.get(f"/app/sites/{b.site.site_id}").status_code == 404


def test_tokens_are_hashed_revocable_and_checked(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    a = _tenant(app, engine, 1)
    with engine.connect() as conn:
        stored = conn.execute(select(api_tokens.c.token_hash, api_tokens.c.prefix)).all()
    assert all(a.token not in row.token_hash for row in stored)
    assert a.token.startswith(stored[0].prefix)
    for header in ["Bearer cp_wrong", "Bearer nope", "Bearer " + "cp_" + "x" * 200]:
        r = TestClient(app).get("/api/v1/calls", headers={"Authorization": header})
        assert r.status_code == 401 and r.json()["error"]
    owner = _login(app, a.email)
    token_id = re.search(r"/app/tokens/(\d+)/revoke", owner.get("/app/tokens").text)
    assert token_id
    owner.post(f"/app/tokens/{token_id.group(1)}/revoke")
    assert _bearer(app, a.token).get("/api/v1/calls").status_code == 401


def test_token_made_on_the_page_is_shown_once_and_works(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    a = _tenant(app, engine, 1)
    owner = _login(app, a.email)
    made = owner.post("/app/tokens", data={"name": "CRM sync"})
    token = re.search(r'id="new-token">(cp_[^<]+)<', made.text)
    assert token
    assert token.group(1) not in owner.get("/app/tokens").text
    assert _items(_bearer(app, token.group(1)), "/api/v1/calls")[0]["id"] == a.call


def test_operators_see_masked_callers_and_cannot_manage_tokens(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    a = _tenant(app, engine, 1)
    with transaction(engine) as conn:
        accounts.create_user(
            conn, a.site.account_id, "op@shop1.example", PASSWORD, "operator", time.time()
        )
    operator = _login(app, "op@shop1.example")
    assert operator.get("/app/tokens").status_code == 403
    assert _items(operator, "/api/v1/calls")[0]["caller"] == "•••• " + a.caller[-4:]
    page = operator.get("/app/calls").text
    assert a.caller not in page and display(a.caller) not in page
    assert "•••• " + a.caller[-4:] in page
    assert a.caller not in operator.get("/app/calls.csv").text
    assert display(a.caller) in _login(app, a.email).get("/app/calls").text
