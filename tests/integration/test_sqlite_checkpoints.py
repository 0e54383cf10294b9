"""A server on SQLite leaves WAL checkpoints to its call worker: a checkpoint (copying the
WAL into the database file and syncing it) must not run inside a routing answer's commit
on the event loop."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from callpath import settings as settings_mod
from callpath.storage import db
from callpath.storage.migrate import upgrade
from callpath.web.app import create_app
from tests.helpers import wait_for


def test_the_call_worker_checkpoints_the_wal_not_the_requests(tmp_path: Path) -> None:
    path = tmp_path / "own.sqlite3"  # a database of its own: file sizes are measured
    url = f"sqlite:///{path}"
    upgrade(url)
    settings = settings_mod.load(
        {"CALLPATH_DATABASE_URL": url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    )
    app = create_app(settings)
    engine = app.state.ctx.engine
    with TestClient(app):
        with engine.connect() as conn:
            pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pages == db.BACKSTOP_CHECKPOINT_PAGES  # commits no longer checkpoint
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE scratch (x BLOB)"))
            conn.execute(text("INSERT INTO scratch VALUES (randomblob(2000000))"))
        assert path.stat().st_size < 1_000_000  # the 2 MB are in the WAL, not yet in the database
        wait_for(lambda: path.stat().st_size >= 2_000_000, 120)  # the worker's next round


def test_a_cli_engine_keeps_sqlites_own_checkpoints(tmp_path: Path) -> None:
    """Only a server has a worker to checkpoint: other engines keep SQLite's default."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    with engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    engine.dispose()
    assert pages == 1000
