"""A server on SQLite leaves WAL checkpoints to its call worker: a checkpoint (copying the
WAL into the database file and syncing it) must not run inside a routing answer's commit
on the event loop."""

from __future__ import annotations

import threading
import time
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


def test_a_checkpoint_under_writes_that_never_pause_lets_the_wal_start_over(
    tmp_path: Path,
) -> None:
    """A PASSIVE checkpoint alone never catches up with a writer that keeps writing (it
    appends while the checkpoint copies), so SQLite never starts the WAL over and the file
    grows for as long as the writes go on."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'steady.sqlite3'}")
    db.defer_checkpoints(engine)
    with db.transaction(engine) as conn:
        conn.execute(text("CREATE TABLE scratch (x BLOB)"))
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set():
            with db.transaction(engine) as conn:
                conn.execute(text("INSERT INTO scratch VALUES (randomblob(3000))"))
            written[0] += 1
            time.sleep(0.001)  # the event loop, too, answers requests between its writes

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        wait_for(lambda: written[0] >= 50, 60)
        for _ in range(5):
            db.checkpoint(engine)
            wait_for(lambda mark=written[0]: written[0] >= mark + 20, 60)  # writes go on
        db.checkpoint(engine)
    finally:
        stop.set()
        writer.join()
    raw = engine.raw_connection()  # outside a transaction: the pragma cannot run in one
    try:
        _busy, frames, _copied = raw.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        raw.close()
    engine.dispose()
    # Every write added at least one frame: a WAL started over holds only the last few.
    assert frames < written[0] / 2, (frames, written[0])
