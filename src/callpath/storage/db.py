"""Engines for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import StaticPool

from callpath.settings import ensure_sqlite_dir


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=15000",
        "PRAGMA foreign_keys=ON",
    ):
        dbapi_conn.execute(pragma)


# A server's SQLite connections leave WAL checkpoints to its call worker thread
# (`checkpoint`, every round): a checkpoint copies the WAL into the database and syncs it,
# and run by whichever commit crosses the threshold it stalled a routing answer on the
# event loop now and then (bench/webhook_load.py: one run in three had a 49 ms p99). The
# threshold stays as a backstop (about 80 MB of WAL) should the worker ever stop.
BACKSTOP_CHECKPOINT_PAGES = 20_000


def defer_checkpoints(engine: Engine) -> None:
    """From now on this engine's connections checkpoint only past the backstop."""

    def _defer(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES}")

    event.listen(engine, "connect", _defer)
    engine.dispose()  # connections made before now reconnect with the setting


def checkpoint(engine: Engine) -> None:
    """Copy what the WAL holds into the database, without waiting on readers or writers."""
    raw = engine.raw_connection()  # outside a transaction: the pragma cannot run in one
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]
    finally:
        raw.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front: allocation reads then writes, and a
    # deferred transaction could not be upgraded safely across processes.
    # Straight to the driver: SQLAlchemy's statement machinery cost more than the BEGIN.
    write = conn.get_execution_options().get("write", True)
    conn.connection.driver_connection.execute(  # type: ignore[union-attr]
        "BEGIN IMMEDIATE" if write else "BEGIN DEFERRED"
    )


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        memory = ":memory:" in url or url in ("sqlite://", "sqlite:///")
        if not memory:
            kwargs.setdefault("pool_size", 16)
            kwargs.setdefault("max_overflow", 48)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # An unreachable host must fail fast: calls are then routed from the cache.
    kwargs.setdefault("connect_args", {"connect_timeout": 3})
    return create_engine(url, **kwargs)


def memory_copy(path: Path, *on_connect: Any) -> Engine:
    """An engine on an in-memory copy of the SQLite file at `path` (one connection; gone
    with `dispose`), for throwaway work such as a trace replay: no file I/O at all.
    `on_connect` listeners run on its connection before first use."""
    memory = sqlite3.connect(":memory:", check_same_thread=False)
    with closing(sqlite3.connect(path)) as source:
        source.backup(memory)
    engine = create_engine("sqlite://", creator=lambda: memory, poolclass=StaticPool)
    for listener in (_sqlite_connect, *on_connect):
        event.listen(engine, "connect", listener)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


_write_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _write_lock(engine: Engine) -> threading.Lock:
    with _registry_lock:
        return _write_locks.setdefault(engine, threading.Lock())


@contextmanager
def transaction(engine: Engine, write: bool = True) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any error.

    SQLite has one writer at a time anyway; threads of this process queue on a lock for
    it instead of in SQLite's busy handler, which sleeps with back-off and made tail
    latency jump to seconds under load. Other processes still wait in `busy_timeout`.
    """
    if write and is_sqlite(engine):
        with _write_lock(engine), _begin(engine, write) as conn:
            yield conn
    else:
        with _begin(engine, write) as conn:
            yield conn


@contextmanager
def _begin(engine: Engine, write: bool) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.execution_options(write=write)
        with conn.begin():
            yield conn


@contextmanager
def batched(conn: Connection) -> Iterator[None]:
    """Statements inside whose results are not read go out in one round trip where the
    driver can (PostgreSQL pipeline mode); elsewhere this changes nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    with conn.connection.driver_connection.pipeline():  # type: ignore[union-attr]
        yield
