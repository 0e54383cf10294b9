"""Hostile input to the `callpath` command: a message and exit code 2, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services import setup
from callpath.storage.db import make_engine, transaction
from callpath.storage.migrate import upgrade
from callpath.storage.tables import sites
from tests.helpers import Seeded, free_port, seed_site

runner = CliRunner()
HUGE = "99999999999999999999"


@pytest.fixture
def env(engine: Engine, database_url: str) -> dict[str, str]:
    return {"CALLPATH_DATABASE_URL": database_url}


def _refused(args: list[str], env: dict[str, str], *expected: str) -> str:
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for part in expected:
        assert part in result.output, result.output
    return result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["site", "add", "--name", "x", "--account", "999"], "no account 999"),
        (["site", "add", "--name", "x", "--account", HUGE], "--account"),
        (["site", "add", "--name", "x", "--account", "-1"], "--account"),
        (["number", "add", "--site", HUGE, "+74950000001"], "--site"),
        (["number", "add", "--site", "0", "+74950000001"], "--site"),
        (["site", "add", "--name", "x", "--region", ""], "region"),
        (["site", "add", "--name", "x", "--region", "ZZ"], "region"),
        (["site", "add", "--name", "x", "--currency", "ÄÖÜ"], "currency"),
        (["site", "add", "--name", "x", "--domain", "http://[::1"], "http://[::1"),
        (["site", "add", "--name", "x", "--exclude", "x" * 100_000], "255"),
        (["serve", "--port", "99999"], "--port"),
    ],
)
def test_bad_ids_and_values_are_refused(
    env: dict[str, str], args: list[str], expected: str
) -> None:
    _refused(args, env, expected)


def test_nothing_is_stored_for_a_refused_site(engine: Engine, env: dict[str, str]) -> None:
    _refused(["site", "add", "--name", "x", "--account", "999"], env)
    with engine.connect() as conn:
        assert conn.execute(select(sites.c.id)).all() == []


@pytest.mark.parametrize(
    "args",
    [
        ["integration", "add", "--site", "\udcff"],
        ["token", "add", "--user", "\udcff"],
        ["pool", "plan", "--site", "\udcff"],
        ["site", "add", "--name", "\udcff"],
        ["asterisk", "listen", "--integration", "\udcff"],
    ],
)
def test_arguments_that_are_not_utf8_are_refused(env: dict[str, str], args: list[str]) -> None:
    # Bytes that are not UTF-8 in argv reach Python as lone surrogates.
    _refused(args, env, "not valid UTF-8")


@pytest.fixture
def sip_site(engine: Engine) -> Seeded:
    site = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        setup.create_integration(conn, site.account_id, site.site_id, "sip", "trunk", time.time())
    return site


@pytest.mark.parametrize("where", ["missing/dir/x.cfg", "."])
def test_sip_config_to_a_path_that_cannot_be_written(
    env: dict[str, str], sip_site: Seeded, tmp_path: Path, where: str
) -> None:
    output = tmp_path / where
    args = ["sip", "config", "--site", sip_site.key, "--pbx", "1.2.3.4:5060"]
    _refused([*args, "--output", str(output)], env, "cannot write", str(output))


@pytest.mark.parametrize("server", ["http://[::1", "ftp://x", "http://", " "])
def test_call_simulate_with_a_server_that_is_not_a_url(
    env: dict[str, str], engine: Engine, server: str
) -> None:
    site = seed_site(engine, pool_size=1)
    args = ["call", "simulate", "--to", site.pool[0], "--server", server]
    _refused(args, env, "--server")


def test_integration_add_with_a_server_that_is_not_a_url(
    env: dict[str, str], engine: Engine
) -> None:
    site = seed_site(engine, pool_size=1)
    _refused(["integration", "add", "--site", site.key, "--server", "http://[::1"], env, "--server")


UNMIGRATED_COMMANDS = [
    ["demo"],
    ["site", "add", "--name", "x"],
    ["number", "add", "--site", "1", "+74950000001"],
    ["integration", "add", "--site", "k"],
    ["token", "add", "--user", "a@b.example"],
    ["pool", "plan", "--site", "k"],
    ["sip", "config", "--site", "k", "--pbx", "1.2.3.4:5060"],
    ["call", "simulate", "--to", "+74951112231"],
    ["asterisk", "listen", "--integration", "int_x"],
    ["recordings", "prune"],
]


@pytest.mark.parametrize("args", UNMIGRATED_COMMANDS)
def test_an_unmigrated_database_says_to_migrate(args: list[str], tmp_path: Path) -> None:
    env = {
        "CALLPATH_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "CALLPATH_RECORDINGS_DIR": str(tmp_path / "recordings"),
        "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
    }
    _refused(args, env, "callpath migrate")


def test_an_older_schema_says_to_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0006")
    _refused(["demo"], {"CALLPATH_DATABASE_URL": url}, "at schema 0006", "callpath migrate")


def test_a_newer_schema_says_to_upgrade_callpath(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    env = {"CALLPATH_DATABASE_URL": url}
    _refused(["demo"], env, "at schema 9999", "upgrade callpath")
    _refused(["migrate"], env, "cannot migrate", "9999")


def test_serve_refuses_an_unmigrated_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the server started on an unmigrated database")

    monkeypatch.setattr(uvicorn, "run", started)
    env = {"CALLPATH_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    _refused(["serve"], env, "callpath migrate")


@pytest.mark.parametrize("args", [["migrate"], ["demo"], ["site", "add", "--name", "x"]])
def test_an_unreachable_database_is_named_without_its_password(args: list[str]) -> None:
    url = f"postgresql://callpath:hunter2@127.0.0.1:{free_port()}/nothing"
    output = _refused(args, {"CALLPATH_DATABASE_URL": url}, "cannot reach the database")
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in output
    assert "hunter2" not in output


def test_a_sqlite_file_whose_folder_cannot_be_made(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    url = f"sqlite:///{blocker / 'db.sqlite3'}"
    for args in (["migrate"], ["demo"]):
        _refused(args, {"CALLPATH_DATABASE_URL": url}, "database")
