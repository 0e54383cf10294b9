"""Invitations: an owner or admin adds a user without a password and gets a link, shown
once; whoever opens it chooses a password and is logged in. A used, expired, withdrawn or
forged link, or one whose maker lost the role it gives, makes nobody a user."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath.storage.db import transaction
from callpath.storage.tables import invitations, users
from tests.helpers import Seeded, add_login, browser, seed_site, user_row

NEW = "my own passphrase"


def _invite(client: Any, email: str, role: str = "analyst") -> str:
    """The path of a new invitation's link, as the users page shows it once."""
    answer = client.post("/app/users", data={"email": email, "role": role}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    page = client.get("/app/users").text
    link = re.search(
        r'<code id="invitation-link">http://testserver(/app/invite/[\w-]+)</code>', page
    )
    assert link, page
    return link.group(1)


def _accept(app: Any, path: str, password: str = NEW, repeat: str | None = None) -> Any:
    guest = TestClient(app, raise_server_exceptions=False)
    form = {"password": password, "repeat": password if repeat is None else repeat}
    return guest, guest.post(path, data=form, follow_redirects=False)


def _users(engine: Engine) -> set[str]:
    with transaction(engine, write=False) as conn:
        return set(conn.execute(select(users.c.email)).scalars())


@pytest.fixture
def owner(app: Any, engine: Engine, site: Seeded) -> Any:
    return browser(app, add_login(engine, site, "owner"))


def test_an_invitation_makes_a_user(app: Any, owner: Any, engine: Engine, site: Seeded) -> None:
    path = _invite(owner, "Guest@Shop.Example", "admin")
    again = owner.get("/app/users").text
    assert "invitation-link" not in again and "guest@shop.example" in again  # waiting
    with transaction(engine, write=False) as conn:
        stored = conn.execute(select(invitations.c.token_hash)).scalar_one()
    assert path.rsplit("/", 1)[1] not in stored  # only a hash is kept
    page = TestClient(app).get(path)
    assert page.status_code == 200 and "guest@shop.example" in page.text and "admin" in page.text
    guest, answer = _accept(app, path)
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    assert guest.get("/app/users").status_code == 200  # logged in, as an admin
    row = user_row(engine, "guest@shop.example")
    assert row["account_id"] == site.account_id and row["role"] == "admin"
    assert row["last_login_at"] is not None
    assert "Invitations waiting" not in owner.get("/app/users").text


def test_a_used_link_is_refused(app: Any, owner: Any, engine: Engine) -> None:
    path = _invite(owner, "guest@shop.example")
    _accept(app, path)
    assert TestClient(app).get(path).status_code == 410
    _guest, again = _accept(app, path, "someone else's")
    assert again.status_code == 410 and "used already" in again.text
    assert user_row(engine, "guest@shop.example")["role"] == "analyst"


def test_an_expired_link_is_refused(app: Any, owner: Any, engine: Engine) -> None:
    path = _invite(owner, "late@shop.example")
    with transaction(engine) as conn:
        conn.execute(update(invitations).values(expires_at=1.0))
    page = TestClient(app, headers={"Accept": "text/html"}).get(path)
    assert page.status_code == 410 and "expired" in page.text
    _guest, answer = _accept(app, path)
    assert answer.status_code == 410
    assert "late@shop.example" not in _users(engine)
    assert "late@shop.example" not in owner.get("/app/users").text  # no longer waiting


def test_a_withdrawn_link_is_refused(app: Any, owner: Any, engine: Engine) -> None:
    path = _invite(owner, "maybe@shop.example")
    with transaction(engine, write=False) as conn:
        invitation_id = conn.execute(select(invitations.c.id)).scalar_one()
    answer = owner.post(f"/app/users/invitations/{invitation_id}/withdraw", follow_redirects=False)
    assert answer.status_code == 303 and "Invitation withdrawn" in owner.get("/app/users").text
    assert TestClient(app).get(path).status_code == 404
    assert _accept(app, path)[1].status_code == 404 and "maybe@shop.example" not in _users(engine)


def test_a_new_invitation_replaces_the_old_one(app: Any, owner: Any, engine: Engine) -> None:
    first = _invite(owner, "twice@shop.example")
    second = _invite(owner, "twice@shop.example", "operator")
    assert _accept(app, first)[1].status_code == 404
    assert _accept(app, second)[1].status_code == 303
    assert user_row(engine, "twice@shop.example")["role"] == "operator"


@pytest.mark.parametrize("path", ["/app/invite/forged", "/app/invite/" + "x" * 300])
def test_a_forged_link_is_refused(app: Any, engine: Engine, path: str) -> None:
    assert TestClient(app).get(path).status_code == 404
    assert _accept(app, path)[1].status_code == 404
    assert _users(engine) == set()


def test_password_rules_keep_the_link_open(app: Any, owner: Any, engine: Engine) -> None:
    path = _invite(owner, "careful@shop.example")
    for password, repeat, reason in (("short", "short", "at least 8"), (NEW, NEW + "?", "differ")):
        _guest, answer = _accept(app, path, password, repeat)
        assert answer.status_code == 400 and reason in answer.text
    assert "careful@shop.example" not in _users(engine)
    assert _accept(app, path)[1].status_code == 303


def test_an_invitation_of_a_deactivated_maker_is_refused(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    admin_email = add_login(engine, site, "admin")
    path = _invite(browser(app, admin_email), "friend@shop.example", "admin")
    owner.post(f"/app/users/{user_row(engine, admin_email)['id']}/deactivate")
    _guest, answer = _accept(app, path)
    assert answer.status_code == 410 and "no longer valid" in answer.text
    assert "friend@shop.example" not in _users(engine)


def test_an_invitation_wider_than_its_makers_role_now_is_refused(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    admin_email = add_login(engine, site, "admin")
    path = _invite(browser(app, admin_email), "friend@shop.example", "admin")
    owner.post(f"/app/users/{user_row(engine, admin_email)['id']}/role", data={"role": "analyst"})
    assert _accept(app, path)[1].status_code == 410


def test_an_email_taken_meanwhile_is_refused(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    path = _invite(owner, "racer@shop.example")
    add_login(engine, seed_site(engine, name="Other"), "owner", "racer@shop.example")
    _guest, answer = _accept(app, path)
    assert answer.status_code == 400 and "exists already" in answer.text


def test_the_link_shows_only_to_its_account(app: Any, owner: Any, engine: Engine) -> None:
    """The notice cookie carries the link's secret; another account's page (or a planted
    cookie) does not show it."""
    path = _invite(owner, "mine@shop.example")
    secret = path.rsplit("/", 1)[1]
    other = browser(app, add_login(engine, seed_site(engine, name="Other"), "owner", "o@x.example"))
    other.cookies.set("callpath_notice", f"invited.{secret}", path="/app")
    page = other.get("/app/users").text
    assert "Invitation made." in page and secret not in page
    assert "mine@shop.example" not in page


def test_another_accounts_invitation_cannot_be_withdrawn(
    app: Any, owner: Any, engine: Engine
) -> None:
    path = _invite(owner, "kept@shop.example")
    with transaction(engine, write=False) as conn:
        invitation_id = conn.execute(select(invitations.c.id)).scalar_one()
    other = browser(app, add_login(engine, seed_site(engine, name="Other"), "owner", "o@x.example"))
    assert other.post(f"/app/users/invitations/{invitation_id}/withdraw").status_code == 404
    assert "kept@shop.example" not in other.get("/app/users").text
    assert _accept(app, path)[1].status_code == 303


def test_the_link_says_when_it_expires_in_the_accounts_time(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    path = _invite(owner, "guest@shop.example", "analyst")
    page = TestClient(app).get(path).text
    assert re.search(r"works until \d{4}-\d\d-\d\d \d\d:\d\d MSK", page), page
