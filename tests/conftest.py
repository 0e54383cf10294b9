"""Shared fixtures: a real database per test worker (SQLite or PostgreSQL), wiped per test.

CALLPATH_TEST_DATABASE_URL picks the backend: unset → a SQLite file in a temp folder;
`postgresql+psycopg://USER@HOST:PORT/DB` → a database of its own per xdist worker,
created on that server (scripts/test starts a throwaway cluster and sets this).
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from callpath.storage.db import make_engine
from callpath.storage.migrate import upgrade
from callpath.storage.tables import metadata
from tests.helpers import ServerProcess, free_port


def make_test_database(tmp_path_factory: pytest.TempPathFactory, name: str) -> str:
    """A new, migrated database called `name` on the backend CALLPATH_TEST_DATABASE_URL
    picks (a SQLite file when unset); its URL."""
    base = os.environ.get("CALLPATH_TEST_DATABASE_URL", "").strip()
    if base.startswith("postgresql"):
        url = _postgres_db(base, name)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp(name) / 'callpath.sqlite3'}"
    upgrade(url)
    return url


def _postgres_db(base_url: str, name: str) -> str:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> str:
    return make_test_database(tmp_path_factory, f"callpath_test_{worker_id}")


def open_engine(url: str) -> Iterator[Engine]:
    """A session fixture's engine on `url`, disposed at the end."""
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _engine(database_url: str) -> Iterator[Engine]:
    yield from open_engine(database_url)


def wipe(engine: Engine) -> None:
    """Empty every table. The browser tests' shared server (which has a database of its
    own, tests/browser/conftest.py) may still be handling the previous test's last beacon
    (a page closing releases its number); on PostgreSQL that transaction and this one can
    deadlock, and the database aborts one of them: try again."""
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                for table in reversed(metadata.sorted_tables):
                    conn.execute(table.delete())
            return
        except OperationalError as exc:
            if "deadlock" not in str(exc).lower() or attempt == 4:
                raise
            time.sleep(0.2)


@pytest.fixture
def engine(_engine: Engine) -> Engine:
    """The test database, empty."""
    wipe(_engine)
    return _engine


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def server(engine: Engine, database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """`callpath serve` in a subprocess on a free loopback port (one worker)."""
    with ServerProcess(database_url, free_port(), tmp_path / "server.log") as proc:
        yield proc


@pytest.fixture(autouse=True)
def _unfreeze_the_collector() -> Iterator[None]:
    """An app's start-up freezes every object alive then out of the garbage collector's
    reach (`gc.freeze()`, for its routing answers' tail latency): in a test process that
    kept every earlier test's app, engine and pooled database connections for good, and
    a PostgreSQL run ran out of connections. After a test that started an app, give them
    back to the collector and collect."""
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
        gc.collect()


@pytest.fixture(autouse=True)
def _dispose_app_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Close the database connections of the apps a test made: an app's engine lives in
    reference cycles with the app (and its worker threads), so its pooled connections
    stayed open long after the test, and a PostgreSQL run ran out of connections."""
    from callpath.web import app as web_app

    made: list[Engine] = []
    real = web_app.make_engine

    def recording(*args: Any, **kwargs: Any) -> Engine:
        engine = real(*args, **kwargs)
        made.append(engine)
        return engine

    monkeypatch.setattr(web_app, "make_engine", recording)
    yield
    for engine in made:
        engine.dispose()
