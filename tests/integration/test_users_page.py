"""The users page (`/app/users`): owners and admins see their account's users and add
them with a password; everyone else gets a 403 page; another account's users are neither
shown nor touched; bad input gets a reason, not a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.helpers import Seeded, add_login, browser, seed_site, user_row


@pytest.fixture
def owner(app: Any, engine: Engine, site: Seeded) -> Any:
    return browser(app, add_login(engine, site, "owner"))


def _row(page: str, email: str) -> str:
    """The users table's row of `email` (its HTML)."""
    found = re.search(rf"<tr id=\"user-\d+\">(?:(?!</tr>).)*{re.escape(email)}.*?</tr>", page, re.S)
    assert found, f"no row for {email}"
    return found.group(0)


def test_owners_see_the_accounts_users(owner: Any, engine: Engine, site: Seeded) -> None:
    add_login(engine, site, "operator", "ops@shop.example")
    page = owner.get("/app/users")
    assert page.status_code == 200
    row = _row(page.text, "ops@shop.example")
    assert "<option selected>operator</option>" in row and "active" in row and "never" in row
    assert "(you)" in _row(page.text, f"owner{site.site_id}@shop.example")
    assert 'href="/app/users"' in page.text  # in the menu


def test_last_login_is_shown(app: Any, owner: Any, engine: Engine, site: Seeded) -> None:
    email = add_login(engine, site, "analyst", "seen@shop.example")
    assert "never" in _row(owner.get("/app/users").text, email)
    browser(app, email)
    assert user_row(engine, email)["last_login_at"] is not None
    assert "never" not in _row(owner.get("/app/users").text, email)


@pytest.mark.parametrize("role", ["analyst", "operator"])
def test_others_get_a_403_page(app: Any, engine: Engine, site: Seeded, role: str) -> None:
    client = browser(app, add_login(engine, site, role))
    page = client.get("/app/users")
    assert page.status_code == 403 and "only owners and admins manage users" in page.text
    assert 'href="/app/users"' not in client.get("/app/calls").text  # not in the menu
    added = client.post("/app/users", data={"email": "x@shop.example", "password": "p" * 12})
    assert added.status_code == 403
    with pytest.raises(Exception, match="No row"):
        user_row(engine, "x@shop.example")


def test_logged_out_goes_to_the_login(app: Any) -> None:
    from fastapi.testclient import TestClient

    answer = TestClient(app).get("/app/users", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/login"


def test_add_a_user_with_a_password(app: Any, owner: Any, engine: Engine) -> None:
    form = {"email": " New@Shop.Example ", "role": "analyst", "password": "a new password"}
    answer = owner.post("/app/users", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/users"
    page = owner.get("/app/users")
    assert "User added" in page.text and "new@shop.example" in page.text
    assert "User added" not in owner.get("/app/users").text  # shown once
    row = user_row(engine, "new@shop.example")
    assert row["role"] == "analyst" and row["password_hash"].startswith("$argon2")
    from fastapi.testclient import TestClient

    login = {"email": "new@shop.example", "password": "a new password"}
    assert TestClient(app).post("/app/login", data=login, follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"email": "no-at-sign", "role": "analyst", "password": "long enough"}, "not an e-mail"),
        ({"email": "a@shop.example", "role": "king", "password": "long enough"}, "role"),
        ({"email": "a@shop.example", "role": "analyst", "password": "short"}, "at least 8"),
        ({"email": "a@shop.example", "role": "analyst", "password": "x" * 1025}, "at most"),
        ({"role": "analyst", "password": "long enough"}, "not an e-mail"),
    ],
)
def test_bad_input_is_explained(
    owner: Any, engine: Engine, form: dict[str, str], reason: str
) -> None:
    answer = owner.post("/app/users", data=form)
    assert answer.status_code == 400 and reason in answer.text
    assert 'id="error"' in answer.text


def test_an_existing_email_is_refused(owner: Any, engine: Engine, site: Seeded) -> None:
    taken = add_login(engine, site, "operator", "taken@shop.example")
    answer = owner.post("/app/users", data={"email": taken, "role": "admin", "password": "x" * 10})
    assert answer.status_code == 400 and "exists already" in answer.text
    assert user_row(engine, taken)["role"] == "operator"


def test_an_admin_adds_no_owner(app: Any, engine: Engine, site: Seeded) -> None:
    admin = browser(app, add_login(engine, site, "admin"))
    assert "<option>owner</option>" not in admin.get("/app/users").text
    form = {"email": "boss@shop.example", "role": "owner", "password": "x" * 10}
    answer = admin.post("/app/users", data=form)
    assert (
        answer.status_code == 400 and "you may give one of admin, analyst, operator" in answer.text
    )
    with pytest.raises(Exception, match="No row"):
        user_row(engine, "boss@shop.example")
    form["role"] = "admin"
    assert admin.post("/app/users", data=form, follow_redirects=False).status_code == 303


def test_other_accounts_users_are_invisible_and_untouchable(
    app: Any, owner: Any, engine: Engine
) -> None:
    other = seed_site(engine, name="Other shop")
    stranger = add_login(engine, other, "admin", "stranger@other.example")
    stranger_id = user_row(engine, stranger)["id"]
    assert stranger not in owner.get("/app/users").text
    for action, form in (("role", {"role": "operator"}), ("deactivate", {}), ("reactivate", {})):
        answer = owner.post(f"/app/users/{stranger_id}/{action}", data=form)
        assert answer.status_code == 404, action
    assert owner.get(f"/app/users/{stranger_id}/deactivate").status_code == 404
    row = user_row(engine, stranger)
    assert row["role"] == "admin" and row["deactivated_at"] is None


def test_ids_out_of_range_are_refused_not_500(owner: Any) -> None:
    assert (
        owner.post("/app/users/99999999999999999999/role", data={"role": "admin"}).status_code
        == 422
    )
    assert owner.post("/app/users/0/deactivate").status_code == 422


def test_forms_from_another_site_are_refused(owner: Any, engine: Engine, site: Seeded) -> None:
    target = user_row(engine, add_login(engine, site, "analyst"))["id"]
    forged = owner.post(
        f"/app/users/{target}/deactivate", headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403 and "another site" in forged.text
    assert user_row(engine, f"analyst{site.site_id}@shop.example")["deactivated_at"] is None
