"""Your login (`/app/me`): a new password only with the current one (other sessions end,
this one goes on), and logging out everywhere, this browser included."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.helpers import PASSWORD, Seeded, add_login, browser, user_row

NEW = "a brand new passphrase"


def _logs_in(app: Any, email: str, password: str) -> bool:
    login = {"email": email, "password": password}
    return TestClient(app).post("/app/login", data=login, follow_redirects=False).status_code == 303


def test_every_role_has_the_page(app: Any, engine: Engine, site: Seeded) -> None:
    client = browser(app, add_login(engine, site, "operator"))
    page = client.get("/app/me")
    assert page.status_code == 200 and "Change your password" in page.text
    assert 'href="/app/me"' in client.get("/app/calls").text  # the e-mail in the menu


def test_change_own_password(app: Any, engine: Engine, site: Seeded) -> None:
    email = add_login(engine, site, "analyst")
    here, elsewhere = browser(app, email), browser(app, email)
    form = {"current": PASSWORD, "new": NEW, "repeat": NEW}
    answer = here.post("/app/me/password", data=form, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/me"
    assert "Password changed" in here.get("/app/me").text
    assert _logs_in(app, email, NEW) and not _logs_in(app, email, PASSWORD)
    assert here.get("/app/calls", follow_redirects=False).status_code == 200  # goes on
    gone = elsewhere.get("/app/calls", follow_redirects=False)
    assert gone.headers["location"] == "/app/login"  # the other session ended


def test_a_wrong_current_password_is_refused(app: Any, engine: Engine, site: Seeded) -> None:
    email = add_login(engine, site, "admin")
    client = browser(app, email)
    before = user_row(engine, email)["password_hash"]
    form = {"current": "not my password", "new": NEW, "repeat": NEW}
    answer = client.post("/app/me/password", data=form)
    assert answer.status_code == 400 and "current password is wrong" in answer.text
    assert user_row(engine, email)["password_hash"] == before
    assert _logs_in(app, email, PASSWORD)


def test_new_password_rules(app: Any, engine: Engine, site: Seeded) -> None:
    email = add_login(engine, site, "owner")
    client = browser(app, email)
    before = user_row(engine, email)["password_hash"]
    for form, reason in (
        ({"current": PASSWORD, "new": "short", "repeat": "short"}, "at least 8"),
        ({"current": PASSWORD, "new": NEW, "repeat": NEW + "!"}, "differ"),
        ({"current": PASSWORD}, "at least 8"),
    ):
        answer = client.post("/app/me/password", data=form)
        assert answer.status_code == 400 and reason in answer.text
    assert user_row(engine, email)["password_hash"] == before


def test_wrong_current_passwords_meet_the_login_limits(
    app: Any, engine: Engine, site: Seeded
) -> None:
    """A stolen session cannot guess its user's password faster than a login could."""
    email = add_login(engine, site, "admin")
    client = browser(app, email)
    form = {"current": "guess", "new": NEW, "repeat": NEW}
    codes = [client.post("/app/me/password", data=form).status_code for _ in range(11)]
    assert codes[:10] == [400] * 10 and codes[10] == 429


def test_log_out_everywhere(app: Any, engine: Engine, site: Seeded) -> None:
    email = add_login(engine, site, "operator")
    here, elsewhere = browser(app, email), browser(app, email)
    other_user = browser(app, add_login(engine, site, "analyst"))
    confirm = here.get("/app/me/logout-everywhere")
    assert confirm.status_code == 200 and 'action="/app/me/logout-everywhere"' in confirm.text
    assert elsewhere.get("/app/calls", follow_redirects=False).status_code == 200  # asked only
    answer = here.post("/app/me/logout-everywhere", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/login"
    for client in (here, elsewhere):
        assert client.get("/app/calls", follow_redirects=False).headers["location"] == "/app/login"
    assert other_user.get("/app/calls", follow_redirects=False).status_code == 200
    assert _logs_in(app, email, PASSWORD)  # the password still works


def test_log_out_everywhere_from_another_site_is_refused(
    app: Any, engine: Engine, site: Seeded
) -> None:
    client = browser(app, add_login(engine, site, "owner"))
    forged = client.post("/app/me/logout-everywhere", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert client.get("/app/calls", follow_redirects=False).status_code == 200
