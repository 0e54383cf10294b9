"""A self-hoster's first steps on the command line: a site, then a login for it, and the
admin pages show that site to that login."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app
from callpath.storage.tables import accounts, sites, users
from callpath.web.app import create_app

runner = CliRunner()


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
