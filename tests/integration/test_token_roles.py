"""API tokens act with a role: their user's, or a narrower one chosen when made, and never
more than their user has now."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app as cli
from callpath.domain import phone
from callpath.services import auth, setup
from callpath.storage.db import transaction
from callpath.storage.tables import api_tokens, users
from callpath.web.app import create_app
from tests.helpers import Seeded, add_hook, add_login, iso, log_in, seed_site

CALLER = "+79161234567"


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path) -> FastAPI:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path)}
    return create_app(settings_mod.load(env))


@pytest.fixture
def site(app: FastAPI, engine: Engine) -> Seeded:
    """A site with one call from CALLER."""
    seeded = seed_site(engine, pool_size=1)
    event = {
        "event": "started",
        "call_id": "c1",
        "at": iso(time.time()),
        "caller": CALLER,
        "called": seeded.pool[0],
    }
    assert add_hook(engine, seeded).post(TestClient(app), event).status_code == 200
    return seeded


def _user(engine: Engine, site: Seeded, role: str) -> auth.Principal:
    email = add_login(engine, site, role)
    with transaction(engine) as conn:
        row = conn.execute(select(users.c.id).where(users.c.email == email)).one()
    return auth.Principal(row.id, site.account_id, email, role)


def _token(engine: Engine, who: auth.Principal, role: str | None = None) -> str:
    with transaction(engine) as conn:
        if role is None:
            return auth.create_token(conn, who, "tests", time.time())
        return auth.create_token(conn, who, "tests", time.time(), role)


def _client(app: FastAPI, token: str) -> TestClient:
    client = TestClient(app, raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _changes(client: TestClient, site: Seeded) -> list[Any]:
    """Status and body of: change the site, add a number, start a plan."""
    answers = [
        client.patch(f"/api/v1/sites/{site.site_id}", json={"name": "Renamed"}),
        client.post(
            f"/api/v1/sites/{site.site_id}/numbers", json={"number": "+74952229999", "kind": "pool"}
        ),
    ]
    return [(r.status_code, r.json()) for r in answers]


def _caller_seen(client: TestClient) -> str:
    calls = client.get("/api/v1/calls")
    assert calls.status_code == 200, calls.text
    seen: str = calls.json()["items"][0]["caller"]
    return seen


def test_an_operators_token_acts_as_an_operator(app: FastAPI, engine: Engine, site: Seeded) -> None:
    client = _client(app, _token(engine, _user(engine, site, "operator")))
    for status, body in _changes(client, site):
        assert status == 403 and "only owners, admins and their API tokens" in body["error"]
    assert _caller_seen(client) == phone.mask(CALLER) != CALLER


def test_an_admins_token_changes_sites_and_sees_callers(
    app: FastAPI, engine: Engine, site: Seeded
) -> None:
    client = _client(app, _token(engine, _user(engine, site, "admin")))
    assert [status for status, _ in _changes(client, site)] == [200, 201]
    assert _caller_seen(client) == CALLER


def test_a_token_made_narrower_than_its_user_keeps_to_its_role(
    app: FastAPI, engine: Engine, site: Seeded
) -> None:
    admin = _user(engine, site, "admin")
    client = _client(app, _token(engine, admin, "operator"))
    assert [status for status, _ in _changes(client, site)] == [403, 403]
    assert _caller_seen(client) == phone.mask(CALLER)
    with pytest.raises(setup.SetupError, match="role"):
        _token(engine, admin, "owner")


def test_narrowing_a_user_narrows_their_tokens(app: FastAPI, engine: Engine, site: Seeded) -> None:
    admin = _user(engine, site, "admin")
    client = _client(app, _token(engine, admin))
    with transaction(engine) as conn:
        conn.execute(update(users).where(users.c.id == admin.user_id).values(role="operator"))
    assert [status for status, _ in _changes(client, site)] == [403, 403]
    assert _caller_seen(client) == phone.mask(CALLER)


def _legacy_token(engine: Engine, site: Seeded, user_id: int | None, secret: str) -> str:
    """A token as made before tokens had a role (role NULL)."""
    token = auth.TOKEN_PREFIX + secret
    with transaction(engine) as conn:
        conn.execute(
            insert(api_tokens).values(
                account_id=site.account_id,
                user_id=user_id,
                name="old",
                prefix=token[:10],
                token_hash=auth.digest(token),
                created_at=time.time(),
            )
        )
    return token


def test_tokens_from_before_roles_have_their_users_role(
    app: FastAPI, engine: Engine, site: Seeded
) -> None:
    operator, admin = _user(engine, site, "operator"), _user(engine, site, "admin")
    as_operator = _client(app, _legacy_token(engine, site, operator.user_id, "o" * 43))
    assert [status for status, _ in _changes(as_operator, site)] == [403, 403]
    as_admin = _client(app, _legacy_token(engine, site, admin.user_id, "a" * 43))
    assert _caller_seen(as_admin) == CALLER
    userless = _client(app, _legacy_token(engine, site, None, "n" * 43))
    assert _caller_seen(userless) == phone.mask(CALLER)


def test_the_tokens_page_offers_roles_up_to_the_users_own(
    app: FastAPI, engine: Engine, site: Seeded
) -> None:
    page = log_in(TestClient(app), add_login(engine, site, "admin"))
    form = page.get("/app/tokens").text
    assert re.findall(r"<option[^>]*>(\w+)</option>", form) == ["admin", "analyst", "operator"]
    made = page.post("/app/tokens", data={"name": "Call desk", "role": "operator"})
    token = re.search(r'id="new-token">(cp_[^<]+)<', made.text)
    assert token
    assert [status for status, _ in _changes(_client(app, token.group(1)), site)] == [403, 403]
    assert "<td>operator</td>" in page.get("/app/tokens").text
    wider = page.post("/app/tokens", data={"name": "Sneaky", "role": "owner"})
    assert wider.status_code == 400 and "may have one of: operator, analyst, admin" in wider.text


def test_token_add_takes_a_role_no_wider_than_the_users(
    app: FastAPI, engine: Engine, site: Seeded, database_url: str
) -> None:
    email = add_login(engine, site, "analyst")
    env = {"CALLPATH_DATABASE_URL": database_url}
    runner = CliRunner()
    wider = runner.invoke(cli, ["token", "add", "--user", email, "--role", "admin"], env=env)
    assert wider.exit_code == 2 and "may have one of: operator, analyst" in wider.output
    made = runner.invoke(cli, ["token", "add", "--user", email, "--role", "operator"], env=env)
    assert made.exit_code == 0, made.output
    token = re.search(r"(cp_\S+)", made.output)
    assert token
    assert _caller_seen(_client(app, token.group(1))) == phone.mask(CALLER)
