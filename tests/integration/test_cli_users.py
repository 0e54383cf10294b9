"""A self-hoster's first steps on the command line: a site, then a login for it, and the
admin pages show that site to that login; then roles changed, users deactivated and
reactivated under the users page's rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app
from callpath.storage.tables import accounts, sites, users
from callpath.web.app import create_app

runner = CliRunner()
PASSWORD = "a long enough password"


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


def _ok(args: list[str], env: dict[str, str]) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _refused(args: list[str], env: dict[str, str], message: str) -> None:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def _account_of(output: str) -> int:
    found = re.search(r"\(account (\d+)\)", output)
    assert found is not None, output
    return int(found.group(1))


def _accounts(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(accounts)).scalar_one())


def test_a_site_then_its_login_then_the_admin_shows_it(
    engine: Engine, env: dict[str, str], database_url: str
) -> None:
    _refused(["user", "add", "--email", "me@shop.example"], env, "no account yet")
    first = _ok(["site", "add", "--name", "My shop"], env)
    account = _account_of(first)
    assert f"user add --account {account}" in first  # a new account says how to log in
    second = _ok(["site", "add", "--name", "My other shop"], env)
    assert _account_of(second) == account and "user add" not in second  # the only account
    assert _accounts(engine) == 1
    out = _ok(["user", "add", "--email", "Me@Shop.example"], env)
    assert f"user me@shop.example (owner) added to account {account}" in out
    password = re.search(r"password: (\S+)", out)
    assert password is not None
    client = TestClient(create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url})))
    login = {"email": "me@shop.example", "password": password.group(1)}
    assert client.post("/app/login", data=login, follow_redirects=False).status_code == 303
    page = client.get("/app").text
    assert "My shop" in page and "My other shop" in page
    assert _ok(["user", "list"], env).strip() == "me@shop.example\towner"


def test_several_accounts_need_a_choice(
    engine: Engine, env: dict[str, str], tmp_path: Path
) -> None:
    a = _account_of(_ok(["site", "add", "--name", "A"], env))
    b = _account_of(_ok(["site", "add", "--name", "B", "--account", "0"], env))  # 0: new
    assert b != a and _accounts(engine) == 2
    _refused(["site", "add", "--name", "C"], env, "several accounts: give --account")
    _refused(["user", "add", "--email", "x@b.example"], env, f"{a} (A), {b} (B)")
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\n")
    add = ["user", "add", "--account", str(b), "--email", "x@b.example", "--role", "analyst"]
    out = _ok([*add, "--password-file", str(secret)], env)
    assert f"added to account {b}" in out and "password:" not in out
    assert _ok(["user", "list", "--account", str(b)], env).strip() == "x@b.example\tanalyst"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sites)).scalar_one() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "not-an-address"], "is not an e-mail address"),
        (["--email", "a@b.example", "--role", "boss"], "role must be one of"),
        (["--email", "a@b.example", "--account", "70000"], "no account 70000"),
        (["--email", "a@b.example", "--password-file", "/nonexistent/pw"], "cannot read"),
    ],
)
def test_bad_user_input_is_a_message(env: dict[str, str], args: list[str], message: str) -> None:
    _ok(["site", "add", "--name", "A"], env)
    _refused(["user", "add", *args], env, message)


def test_a_login_is_added_once(env: dict[str, str]) -> None:
    _ok(["site", "add", "--name", "A"], env)
    _ok(["user", "add", "--email", "a@b.example"], env)
    _refused(["user", "add", "--email", "a@b.example"], env, "exists already")


def test_user_list_shows_who_is_deactivated(env: dict[str, str], engine: Engine) -> None:
    _ok(["site", "add", "--name", "A"], env)
    _ok(["user", "add", "--email", "on@b.example"], env)
    _ok(["user", "add", "--email", "off@b.example", "--role", "analyst"], env)
    with engine.begin() as conn:
        conn.execute(
            update(users).where(users.c.email == "off@b.example").values(deactivated_at=1.0)
        )
    listed = _ok(["user", "list"], env).splitlines()
    assert listed == ["on@b.example\towner", "off@b.example\tanalyst\tdeactivated"]


@pytest.fixture
def team(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A site's account with an owner and an analyst, both with the password `PASSWORD`."""
    _ok(["site", "add", "--name", "A"], env)
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    for email, role in (("boss@b.example", "owner"), ("ann@b.example", "analyst")):
        _ok(["user", "add", "--email", email, "--role", role, "--password-file", str(secret)], env)
    return {"owner": "boss@b.example", "analyst": "ann@b.example"}


def _logged_in(app: Any, email: str) -> TestClient:
    client = TestClient(app)
    login = {"email": email, "password": PASSWORD}
    assert client.post("/app/login", data=login, follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def web(database_url: str) -> Any:
    return create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))


def test_user_role_changes_a_role(env: dict[str, str], team: dict[str, str]) -> None:
    out = _ok(["user", "role", "--email", " Ann@B.example", "--role", "admin"], env)
    assert out.strip() == "user ann@b.example is now admin (was analyst)"
    assert _ok(["user", "list"], env).splitlines() == [
        "boss@b.example\towner",
        "ann@b.example\tadmin",
    ]
    _ok(["user", "role", "--email", "ann@b.example", "--role", "owner"], env)
    _ok(["user", "role", "--email", "boss@b.example", "--role", "operator"], env)  # one left
    assert _ok(["user", "list"], env).splitlines() == [
        "boss@b.example\toperator",
        "ann@b.example\towner",
    ]


def test_the_last_active_owner_keeps_the_role(
    env: dict[str, str], team: dict[str, str], engine: Engine
) -> None:
    _refused(
        ["user", "role", "--email", team["owner"], "--role", "admin"], env, "last active owner"
    )
    _refused(["user", "deactivate", "--email", team["owner"]], env, "last active owner")
    assert _ok(["user", "list"], env).splitlines()[0] == "boss@b.example\towner"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["role", "--email", "nobody@b.example", "--role", "admin"], "no user nobody@b.example"),
        (["role", "--email", "ann@b.example", "--role", "boss"], "role: you may give one of"),
        (["role", "--email", "ann@b.example", "--role", ""], "role: you may give one of"),
        (["deactivate", "--email", "nobody@b.example"], "no user nobody@b.example"),
        (["reactivate", "--email", "nobody@b.example"], "no user nobody@b.example"),
        (["deactivate", "--email", ""], "--email: the user's e-mail"),
    ],
)
def test_bad_role_and_deactivation_input_is_a_message(
    env: dict[str, str], team: dict[str, str], args: list[str], message: str
) -> None:
    _refused(["user", *args], env, message)
    assert _ok(["user", "list"], env).splitlines() == [
        "boss@b.example\towner",
        "ann@b.example\tanalyst",
    ]


def test_deactivation_ends_sessions_and_tokens(
    env: dict[str, str], team: dict[str, str], web: Any
) -> None:
    theirs = _logged_in(web, team["analyst"])
    assert theirs.get("/app/calls", follow_redirects=False).status_code == 200
    token = re.search(r"Bearer (\S+)", _ok(["token", "add", "--user", team["analyst"]], env))
    assert token is not None
    api = TestClient(web, headers={"Authorization": f"Bearer {token.group(1)}"})
    assert api.get("/api/v1/calls").status_code == 200
    out = _ok(["user", "deactivate", "--email", team["analyst"]], env)
    assert out.strip() == (
        "user ann@b.example deactivated: their login sessions ended and their API tokens "
        "were revoked"
    )
    assert theirs.get("/app/calls", follow_redirects=False).headers["location"] == "/app/login"
    assert api.get("/api/v1/calls").status_code == 401
    login = {"email": team["analyst"], "password": PASSWORD}
    assert TestClient(web).post("/app/login", data=login).status_code == 401
    assert _ok(["user", "list"], env).splitlines()[1] == "ann@b.example\tanalyst\tdeactivated"
    again = _ok(["user", "deactivate", "--email", team["analyst"]], env)
    assert again.strip() == "user ann@b.example is deactivated already"


def test_reactivation_lets_them_log_in_again(
    env: dict[str, str], team: dict[str, str], web: Any
) -> None:
    assert _ok(["user", "reactivate", "--email", team["analyst"]], env).strip() == (
        "user ann@b.example is active already"
    )
    _ok(["user", "deactivate", "--email", team["analyst"]], env)
    out = _ok(["user", "reactivate", "--email", team["analyst"]], env)
    assert out.strip() == (
        "user ann@b.example reactivated: they can log in again (their old API tokens stay revoked)"
    )
    assert _logged_in(web, team["analyst"]).get("/app/calls").status_code == 200
    assert _ok(["user", "list"], env).splitlines()[1] == "ann@b.example\tanalyst"


def test_a_deactivated_owner_does_not_count(env: dict[str, str], team: dict[str, str]) -> None:
    """The same rule as the page: only active owners keep the account's owner."""
    _ok(["user", "role", "--email", team["analyst"], "--role", "owner"], env)
    _ok(["user", "deactivate", "--email", team["analyst"]], env)
    _refused(
        ["user", "role", "--email", team["owner"], "--role", "admin"], env, "last active owner"
    )
