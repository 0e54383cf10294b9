"""A forgotten password: an owner or admin makes a reset link for a user they manage (after
a confirmation page, or `callpath user reset-password`), shown once; whoever opens it
chooses the user's new password, every login session of the user ends and the browser
that set it is logged in. A used, expired, withdrawn, replaced or forged link, a link of a
deactivated user, or one whose maker no longer manages the user, changes nothing."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from callpath.cli import app as cli
from callpath.services import auth
from callpath.storage.db import transaction
from callpath.storage.tables import password_resets, users
from tests.helpers import PASSWORD, Seeded, add_login, browser, seed_site, user_row

NEW = "my new passphrase"
runner = CliRunner()


@pytest.fixture
def owner(app: Any, engine: Engine, site: Seeded) -> Any:
    return browser(app, add_login(engine, site, "owner"))


def _id(engine: Engine, email: str) -> int:
    return int(user_row(engine, email)["id"])


def _make(client: Any, engine: Engine, email: str) -> str:
    """The path of a new reset link of `email`, as the users page shows it once."""
    answer = client.post(f"/app/users/{_id(engine, email)}/reset-password", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/app/users", answer.text
    page = client.get("/app/users").text
    link = re.search(r'<code id="reset-link">http://testserver(/app/reset/[\w-]+)</code>', page)
    assert link, page
    assert f"Send this link to {email}" in page
    return link.group(1)


def _token(engine: Engine, email: str) -> str:
    row = user_row(engine, email)
    who = auth.Principal(row["id"], row["account_id"], email, row["role"])
    with transaction(engine) as conn:
        return auth.create_token(conn, who, "CRM", time.time())


def _use(app: Any, path: str, password: str = NEW, repeat: str | None = None) -> Any:
    guest = TestClient(app, raise_server_exceptions=False)
    form = {"password": password, "repeat": password if repeat is None else repeat}
    return guest, guest.post(path, data=form, follow_redirects=False)


def _logs_in(app: Any, email: str, password: str) -> bool:
    login = {"email": email, "password": password}
    answer = TestClient(app).post("/app/login", data=login, follow_redirects=False)
    return bool(answer.status_code == 303)


def _resets(engine: Engine) -> int:
    with transaction(engine, write=False) as conn:
        return len(conn.execute(select(password_resets.c.id)).all())


def test_a_reset_link_sets_a_new_password_and_ends_every_session(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    target = add_login(engine, site, "analyst")
    theirs = browser(app, target)
    api = TestClient(app, headers={"Authorization": f"Bearer {_token(engine, target)}"})
    listed = owner.get("/app/users").text
    assert f'href="/app/users/{_id(engine, target)}/reset-password"' in listed  # a link
    ask = owner.get(f"/app/users/{_id(engine, target)}/reset-password")
    assert ask.status_code == 200 and f"Reset the password of {target}?" in ask.text
    assert f'action="/app/users/{_id(engine, target)}/reset-password"' in ask.text
    assert _resets(engine) == 0  # asking made nothing
    path = _make(owner, engine, target)
    again = owner.get("/app/users").text
    assert "reset-link" not in again and "Password reset links waiting" in again
    with transaction(engine, write=False) as conn:
        stored = conn.execute(select(password_resets.c.token_hash)).scalar_one()
    assert path.rsplit("/", 1)[1] not in stored  # only a hash is kept
    assert _logs_in(app, target, PASSWORD)  # the old password works until the link is used
    page = TestClient(app).get(path)
    assert page.status_code == 200 and target in page.text
    guest, answer = _use(app, path)
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    assert guest.get("/app/calls").status_code == 200  # logged in as them
    assert theirs.get("/app/calls", follow_redirects=False).headers["location"] == "/app/login"
    assert not _logs_in(app, target, PASSWORD) and _logs_in(app, target, NEW)
    assert api.get("/api/v1/calls").status_code == 200  # API tokens are not touched
    assert "Password reset links waiting" not in owner.get("/app/users").text


def test_a_used_link_is_refused(app: Any, owner: Any, engine: Engine, site: Seeded) -> None:
    target = add_login(engine, site, "operator")
    path = _make(owner, engine, target)
    _use(app, path)
    assert TestClient(app).get(path).status_code == 410
    _guest, again = _use(app, path, "someone else's")
    assert again.status_code == 410 and "used already" in again.text
    assert _logs_in(app, target, NEW)


def test_an_expired_link_is_refused(app: Any, owner: Any, engine: Engine, site: Seeded) -> None:
    target = add_login(engine, site, "analyst")
    path = _make(owner, engine, target)
    with transaction(engine) as conn:
        conn.execute(update(password_resets).values(expires_at=1.0))
    page = TestClient(app, headers={"Accept": "text/html"}).get(path)
    assert page.status_code == 410 and "expired" in page.text and "No longer valid" in page.text
    assert _use(app, path)[1].status_code == 410
    assert _logs_in(app, target, PASSWORD)
    assert "Password reset links waiting" not in owner.get("/app/users").text


def test_a_new_link_replaces_the_old_one(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    target = add_login(engine, site, "analyst")
    first = _make(owner, engine, target)
    second = _make(owner, engine, target)
    assert _use(app, first)[1].status_code == 404
    assert _use(app, second)[1].status_code == 303


def test_a_withdrawn_link_is_refused(app: Any, owner: Any, engine: Engine, site: Seeded) -> None:
    target = add_login(engine, site, "analyst")
    path = _make(owner, engine, target)
    with transaction(engine, write=False) as conn:
        reset_id = conn.execute(select(password_resets.c.id)).scalar_one()
    answer = owner.post(f"/app/users/resets/{reset_id}/withdraw", follow_redirects=False)
    assert answer.status_code == 303
    assert "Password reset link withdrawn" in owner.get("/app/users").text
    assert TestClient(app).get(path).status_code == 404
    assert _use(app, path)[1].status_code == 404 and _logs_in(app, target, PASSWORD)


def test_a_deactivated_user_cannot_use_a_link(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    target = add_login(engine, site, "analyst")
    path = _make(owner, engine, target)
    owner.post(f"/app/users/{_id(engine, target)}/deactivate")
    assert _use(app, path)[1].status_code == 404  # deactivating withdrew it
    refused = owner.post(f"/app/users/{_id(engine, target)}/reset-password")
    assert refused.status_code == 400 and "is deactivated" in refused.text
    owner.post(f"/app/users/{_id(engine, target)}/reactivate")
    path = _make(owner, engine, target)
    with transaction(engine) as conn:  # deactivated by other means than the page
        conn.execute(update(users).where(users.c.email == target).values(deactivated_at=1.0))
    before = user_row(engine, target)["password_hash"]
    assert TestClient(app).get(path).status_code == 410
    _guest, answer = _use(app, path)
    assert answer.status_code == 410 and "deactivated" in answer.text
    assert user_row(engine, target)["password_hash"] == before
    with transaction(engine) as conn:
        conn.execute(update(users).where(users.c.email == target).values(deactivated_at=None))
    assert _logs_in(app, target, PASSWORD)


def test_an_admin_resets_no_owner_and_a_link_follows_its_maker(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    admin_email = add_login(engine, site, "admin")
    admin = browser(app, admin_email)
    boss = f"owner{site.site_id}@shop.example"
    refused = admin.post(f"/app/users/{_id(engine, boss)}/reset-password")
    assert refused.status_code == 400 and "only an owner changes them" in refused.text
    assert f"/app/users/{_id(engine, boss)}/reset-password" not in admin.get("/app/users").text
    target = add_login(engine, site, "analyst")
    path = _make(admin, engine, target)
    owner.post(f"/app/users/{_id(engine, target)}/role", data={"role": "owner"})
    assert _use(app, path)[1].status_code == 410  # its maker no longer manages them
    owner.post(f"/app/users/{_id(engine, target)}/role", data={"role": "analyst"})
    assert _use(app, path)[1].status_code == 303  # and again does
    path = _make(admin, engine, target)
    owner.post(f"/app/users/{_id(engine, admin_email)}/deactivate")
    _guest, answer = _use(app, path, "yet another one")
    assert answer.status_code == 410 and "no longer valid" in answer.text


def test_nobody_resets_their_own_password_here(owner: Any, engine: Engine, site: Seeded) -> None:
    me = _id(engine, f"owner{site.site_id}@shop.example")
    assert f"/app/users/{me}/reset-password" not in owner.get("/app/users").text
    answer = owner.post(f"/app/users/{me}/reset-password")
    assert answer.status_code == 400 and "/app/me" in answer.text and _resets(engine) == 0


def test_only_owners_and_admins_make_links(app: Any, engine: Engine, site: Seeded) -> None:
    target = add_login(engine, site, "operator")
    analyst = browser(app, add_login(engine, site, "analyst"))
    assert analyst.get(f"/app/users/{_id(engine, target)}/reset-password").status_code == 403
    assert analyst.post(f"/app/users/{_id(engine, target)}/reset-password").status_code == 403
    assert _resets(engine) == 0


def test_other_accounts_users_are_untouchable(app: Any, owner: Any, engine: Engine) -> None:
    stranger = add_login(engine, seed_site(engine, name="Other"), "analyst", "s@other.example")
    stranger_id = _id(engine, stranger)
    assert owner.get(f"/app/users/{stranger_id}/reset-password").status_code == 404
    assert owner.post(f"/app/users/{stranger_id}/reset-password").status_code == 404
    assert _resets(engine) == 0


def test_another_accounts_link_cannot_be_withdrawn(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    path = _make(owner, engine, add_login(engine, site, "analyst"))
    with transaction(engine, write=False) as conn:
        reset_id = conn.execute(select(password_resets.c.id)).scalar_one()
    other = browser(app, add_login(engine, seed_site(engine, name="Other"), "owner", "o@x.example"))
    assert other.post(f"/app/users/resets/{reset_id}/withdraw").status_code == 404
    assert "Password reset links waiting" not in other.get("/app/users").text
    assert _use(app, path)[1].status_code == 303


@pytest.mark.parametrize("path", ["/app/reset/forged", "/app/reset/" + "x" * 300])
def test_a_forged_link_is_refused(app: Any, path: str) -> None:
    assert TestClient(app).get(path).status_code == 404
    assert _use(app, path)[1].status_code == 404


def test_password_rules_keep_the_link_open(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    target = add_login(engine, site, "analyst")
    path = _make(owner, engine, target)
    for password, repeat, reason in (("short", "short", "at least 8"), (NEW, NEW + "?", "differ")):
        _guest, answer = _use(app, path, password, repeat)
        assert answer.status_code == 400 and reason in answer.text
    assert _logs_in(app, target, PASSWORD)
    assert _use(app, path)[1].status_code == 303 and _logs_in(app, target, NEW)


def test_the_link_shows_only_to_its_account(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    path = _make(owner, engine, add_login(engine, site, "analyst"))
    secret = path.rsplit("/", 1)[1]
    other = browser(app, add_login(engine, seed_site(engine, name="Other"), "owner", "o@x.example"))
    other.cookies.set("callpath_notice", f"reset.{secret}", path="/app")
    page = other.get("/app/users").text
    assert "Password reset link made." in page and secret not in page


def test_changing_your_own_password_withdraws_your_links(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    target = add_login(engine, site, "analyst")
    path = _make(owner, engine, target)
    form = {"current": PASSWORD, "new": "remembered it", "repeat": "remembered it"}
    assert browser(app, target).post("/app/me/password", data=form).status_code == 200
    assert _use(app, path)[1].status_code == 404 and _logs_in(app, target, "remembered it")


def _cli(args: list[str], database_url: str, **env: str) -> Any:
    return runner.invoke(cli, args, env={"CALLPATH_DATABASE_URL": database_url, **env})


def test_the_command_line_makes_a_link_even_for_the_only_owner(
    app: Any, engine: Engine, site: Seeded, database_url: str
) -> None:
    boss = add_login(engine, site, "owner")
    public = {"CALLPATH_PUBLIC_URL": "https://calls.shop.example"}
    done = _cli(["user", "reset-password", "--email", boss.upper()], database_url, **public)
    assert done.exit_code == 0, done.output
    link = re.search(r"https://calls\.shop\.example(/app/reset/[\w-]+)\n", done.output)
    assert link and "works once, for 24 hours" in done.output
    assert ">the command line<" in browser(app, boss).get("/app/users").text  # made by
    guest, answer = _use(app, link.group(1))
    assert answer.status_code == 303 and guest.get("/app/users").status_code == 200
    assert _logs_in(app, boss, NEW)


def test_the_command_line_prints_the_server_or_the_path(
    engine: Engine, site: Seeded, database_url: str
) -> None:
    target = add_login(engine, site, "analyst")
    args = ["user", "reset-password", "--email", target]
    given = _cli([*args, "--server", "https://cp.example/"], database_url)
    assert given.exit_code == 0 and re.search(
        r"\n  https://cp\.example/app/reset/[\w-]+\n", given.output
    )
    bare = _cli(args, database_url)
    assert bare.exit_code == 0 and re.search(r"\n  /app/reset/[\w-]+\n", bare.output)
    assert "CALLPATH_PUBLIC_URL" in bare.output  # says how to print it whole
    assert _resets(engine) == 1  # the second replaced the first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "nobody@shop.example"], "no user nobody@shop.example"),
        (
            [
                "--email",
                "DEACTIVATED",
            ],
            "is deactivated",
        ),
        (["--email", "ANALYST", "--server", "ftp://x"], "--server"),
    ],
)
def test_the_command_line_refuses_in_one_line(
    engine: Engine, site: Seeded, database_url: str, args: list[str], message: str
) -> None:
    analyst = add_login(engine, site, "analyst")
    off = add_login(engine, site, "operator")
    with transaction(engine) as conn:
        conn.execute(update(users).where(users.c.email == off).values(deactivated_at=1.0))
    args = [analyst if a == "ANALYST" else off if a == "DEACTIVATED" else a for a in args]
    done = _cli(["user", "reset-password", *args], database_url)
    assert done.exit_code == 2 and message in done.output and "Traceback" not in done.output
    assert _resets(engine) == 0


def test_the_link_says_when_it_expires_in_the_accounts_time(
    app: Any, owner: Any, engine: Engine, site: Seeded
) -> None:
    path = _make(owner, engine, add_login(engine, site, "analyst"))
    page = TestClient(app).get(path).text
    assert re.search(r"works until \d{4}-\d\d-\d\d \d\d:\d\d MSK", page), page
