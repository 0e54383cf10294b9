"""Changing a user's role and deactivating them from the users page: nobody gives a role
wider than their own or changes a wider one, the account keeps an active owner, and a
deactivated user's login sessions and API tokens stop working at once."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath.services import auth, users
from callpath.services.setup import SetupError
from callpath.storage.db import transaction
from callpath.storage.tables import api_tokens, login_sessions
from tests.helpers import Seeded, add_login, browser, user_row


def _id(engine: Engine, email: str) -> int:
    return int(user_row(engine, email)["id"])


def _token(engine: Engine, email: str) -> str:
    row = user_row(engine, email)
    who = auth.Principal(row["id"], row["account_id"], email, row["role"])
    with transaction(engine) as conn:
        return auth.create_token(conn, who, "CRM", time.time())


def _sessions(engine: Engine, email: str) -> int:
    user_id = _id(engine, email)
    with transaction(engine, write=False) as conn:
        query = select(login_sessions.c.token_hash).where(login_sessions.c.user_id == user_id)
        return len(conn.execute(query).all())


def test_an_owner_changes_a_role(app: Any, engine: Engine, site: Seeded) -> None:
    owner = browser(app, add_login(engine, site, "owner"))
    analyst = add_login(engine, site, "analyst")
    answer = owner.post(
        f"/app/users/{_id(engine, analyst)}/role", data={"role": "admin"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/app/users"
    assert "Role changed." in owner.get("/app/users").text
    assert user_row(engine, analyst)["role"] == "admin"


def test_an_admin_raises_nobody_above_admin(app: Any, engine: Engine, site: Seeded) -> None:
    admin = browser(app, add_login(engine, site, "admin"))
    analyst = add_login(engine, site, "analyst")
    answer = admin.post(f"/app/users/{_id(engine, analyst)}/role", data={"role": "owner"})
    assert answer.status_code == 400 and "you may give one of admin, analyst" in answer.text
    assert user_row(engine, analyst)["role"] == "analyst"
    ok = admin.post(f"/app/users/{_id(engine, analyst)}/role", data={"role": "admin"})
    assert ok.status_code == 200 and user_row(engine, analyst)["role"] == "admin"


def test_an_admin_changes_no_owner(app: Any, engine: Engine, site: Seeded) -> None:
    owner = add_login(engine, site, "owner")
    add_login(engine, site, "owner", "second-owner@shop.example")
    admin = browser(app, add_login(engine, site, "admin"))
    owner_id = _id(engine, owner)
    demoted = admin.post(f"/app/users/{owner_id}/role", data={"role": "analyst"})
    assert demoted.status_code == 400 and "only an owner changes them" in demoted.text
    deactivated = admin.post(f"/app/users/{owner_id}/deactivate")
    assert deactivated.status_code == 400 and "only an owner changes them" in deactivated.text
    row = user_row(engine, owner)
    assert row["role"] == "owner" and row["deactivated_at"] is None
    assert f"/app/users/{owner_id}/deactivate" not in admin.get("/app/users").text


def test_an_unknown_role_is_refused(app: Any, engine: Engine, site: Seeded) -> None:
    owner = browser(app, add_login(engine, site, "owner"))
    analyst = add_login(engine, site, "analyst")
    for role in ("superuser", "", "OWNER"):
        answer = owner.post(f"/app/users/{_id(engine, analyst)}/role", data={"role": role})
        assert answer.status_code == 400 and "you may give one of" in answer.text
    assert user_row(engine, analyst)["role"] == "analyst"


def test_the_last_active_owner_stays(app: Any, engine: Engine, site: Seeded) -> None:
    owner = add_login(engine, site, "owner")
    client = browser(app, owner)
    demote = client.post(f"/app/users/{_id(engine, owner)}/role", data={"role": "admin"})
    assert demote.status_code == 400 and "last active owner" in demote.text
    assert user_row(engine, owner)["role"] == "owner"
    second = add_login(engine, site, "owner", "second-owner@shop.example")
    client.post(f"/app/users/{_id(engine, second)}/deactivate")
    assert user_row(engine, second)["deactivated_at"] is not None
    # a deactivated owner does not count: the page's user is still the last active one
    demote = client.post(f"/app/users/{_id(engine, owner)}/role", data={"role": "admin"})
    assert demote.status_code == 400 and "last active owner" in demote.text
    client.post(f"/app/users/{_id(engine, second)}/reactivate")
    demote = client.post(
        f"/app/users/{_id(engine, owner)}/role", data={"role": "admin"}, follow_redirects=False
    )
    assert demote.status_code == 303 and user_row(engine, owner)["role"] == "admin"


def test_the_last_owner_cannot_be_deactivated(app: Any, engine: Engine, site: Seeded) -> None:
    owner = add_login(engine, site, "owner")
    other = add_login(engine, site, "owner", "other-owner@shop.example")
    client = browser(app, owner)
    client.post(f"/app/users/{_id(engine, other)}/role", data={"role": "admin"})
    other_client = browser(app, other)
    answer = other_client.post(f"/app/users/{_id(engine, owner)}/deactivate")
    assert answer.status_code == 400  # an admin now: changes no owner
    themselves = client.post(f"/app/users/{_id(engine, owner)}/deactivate")
    assert themselves.status_code == 400 and "cannot deactivate yourself" in themselves.text
    assert user_row(engine, owner)["deactivated_at"] is None


def test_deactivation_is_confirmed_first(app: Any, engine: Engine, site: Seeded) -> None:
    client = browser(app, add_login(engine, site, "owner"))
    target = add_login(engine, site, "analyst")
    listed = client.get("/app/users").text
    assert f'href="/app/users/{_id(engine, target)}/deactivate"' in listed  # a link, no form
    page = client.get(f"/app/users/{_id(engine, target)}/deactivate")
    assert page.status_code == 200 and f"Deactivate {target}?" in page.text
    assert f'action="/app/users/{_id(engine, target)}/deactivate"' in page.text
    assert user_row(engine, target)["deactivated_at"] is None  # asking changed nothing


def test_deactivation_ends_sessions_and_tokens(app: Any, engine: Engine, site: Seeded) -> None:
    owner = browser(app, add_login(engine, site, "owner"))
    target = add_login(engine, site, "admin")
    theirs, token = browser(app, target), _token(engine, target)
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.get("/api/v1/sites").status_code == 200
    assert theirs.get("/app/calls").status_code == 200 and _sessions(engine, target) == 1
    answer = owner.post(f"/app/users/{_id(engine, target)}/deactivate", follow_redirects=False)
    assert answer.status_code == 303
    page = owner.get("/app/users").text
    assert "User deactivated" in page and "deactivated 20" in page
    assert _sessions(engine, target) == 0
    assert theirs.get("/app/calls", follow_redirects=False).headers["location"] == "/app/login"
    assert api.get("/api/v1/sites").status_code == 401
    with transaction(engine, write=False) as conn:
        revoked = conn.execute(select(api_tokens.c.revoked_at)).scalar_one()
    assert revoked is not None
    login = {"email": target, "password": "correct horse battery"}
    assert TestClient(app).post("/app/login", data=login).status_code == 401


def test_reactivation_lets_them_log_in_again(app: Any, engine: Engine, site: Seeded) -> None:
    owner = browser(app, add_login(engine, site, "owner"))
    target = add_login(engine, site, "operator")
    token = _token(engine, target)
    owner.post(f"/app/users/{_id(engine, target)}/deactivate")
    answer = owner.post(f"/app/users/{_id(engine, target)}/reactivate", follow_redirects=False)
    assert answer.status_code == 303 and "User reactivated" in owner.get("/app/users").text
    assert user_row(engine, target)["deactivated_at"] is None
    assert browser(app, target).get("/app/calls").status_code == 200
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.get("/api/v1/calls").status_code == 401  # its tokens stay revoked


def test_a_token_of_a_deactivated_user_is_refused_even_unrevoked(
    app: Any, engine: Engine, site: Seeded
) -> None:
    """Deactivated by other means than the page (its revocation undone here): the token
    still does not work while its user is deactivated."""
    owner = browser(app, add_login(engine, site, "owner"))
    target = add_login(engine, site, "admin")
    token = _token(engine, target)
    owner.post(f"/app/users/{_id(engine, target)}/deactivate")
    with transaction(engine) as conn:
        conn.execute(api_tokens.update().values(revoked_at=None))
    api = TestClient(app)
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.get("/api/v1/sites").status_code == 401


def test_two_owners_deactivating_each_other_leave_one(
    app: Any, engine: Engine, site: Seeded
) -> None:
    """Both asked at once: the second request, by an owner the first one deactivated,
    is refused because it would take away the last active owner."""
    first, second = (
        add_login(engine, site, "owner"),
        add_login(engine, site, "owner", "b@x.example"),
    )
    seconds_request = auth.Principal(_id(engine, second), site.account_id, second, "owner")
    browser(app, first).post(f"/app/users/{_id(engine, second)}/deactivate")
    with pytest.raises(SetupError, match="last active owner"), transaction(engine) as conn:
        users.deactivate(conn, seconds_request, _id(engine, first), time.time())
    assert user_row(engine, first)["deactivated_at"] is None
