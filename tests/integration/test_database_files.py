"""What the database gives away: its files are its owner's only (they hold integration
secrets and login hashes), and /healthz does not tell strangers where the database is."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from callpath import settings as settings_mod
from callpath.storage.db import make_engine, transaction
from callpath.storage.migrate import upgrade
from callpath.web.app import create_app
from tests.helpers import free_port


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most services run with (files 0644 unless the program says otherwise)."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_wal_are_the_owners_only(
    tmp_path: Path, usual_umask: None
) -> None:
    path = tmp_path / "new" / "callpath.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)  # `callpath migrate` on a fresh install creates the file
    engine = make_engine(url)
    with transaction(engine) as conn:  # a write keeps the WAL and its index open
        conn.execute(text("CREATE TABLE scratch (x INTEGER)"))
        files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
        modes = {p.name: _mode(p) for p in files}
    engine.dispose()
    assert modes == {p.name: 0o600 for p in files}


def test_an_existing_files_permissions_are_left_as_chosen(
    tmp_path: Path, usual_umask: None
) -> None:
    path = tmp_path / "shared.sqlite3"
    path.touch(mode=0o640)  # e.g. shared with a backup group on purpose
    engine = make_engine(f"sqlite:///{path}")
    with transaction(engine) as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    assert _mode(path) == 0o640


def test_healthz_does_not_tell_where_the_database_is(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://callpath@127.0.0.1:{port}/nothing?connect_timeout=2"
    settings = settings_mod.load(
        {"CALLPATH_DATABASE_URL": url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    )
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json() == {"ok": False, "database": "unavailable", "spooled_events": 0}
    assert str(port) not in health.text and "127.0.0.1" not in json.dumps(health.json())


def test_an_admin_page_says_the_database_is_unavailable(tmp_path: Path) -> None:
    """A person gets a page with the reason, not a JSON body or a 500."""
    url = f"postgresql://callpath@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    settings = settings_mod.load(
        {"CALLPATH_DATABASE_URL": url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    )
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    client.cookies.set("callpath_login", "a-login-cookie")  # read from the database
    page = client.get("/app/calls", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "database unavailable, try again shortly" in page.text
