"""Engines for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import contextvars
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from callpath.settings import ensure_sqlite_dir

R = TypeVar("R")

# How long work may wait for the database when nothing hurries it (CLI commands, worker
# threads, the apply process): a backup or a long command on the same SQLite file is
# waited out rather than failed.
PATIENT_SECONDS = 15.0

# What a failed database call can raise: SQLAlchemy's wrapper, or the driver's own error
# from the statements run straight on the driver (`_sqlite_begin`, `storage/prepared.py`).
UNAVAILABLE: tuple[type[Exception], ...] = (
    DBAPIError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)


@dataclass(slots=True)
class _Budget:
    """How long this engine's callers wait for the database. `hurried` (None: nobody is
    hurried) applies on an event loop and inside `within`; everything else waits up to
    `patient`."""

    hurried: float | None = None
    patient: float = PATIENT_SECONDS
    write_lock: threading.Lock = field(default_factory=threading.Lock)


_budgets: weakref.WeakKeyDictionary[Engine, _Budget] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()
# Set: this caller waits at most that many seconds (BUDGET: the engine's busy budget),
# wherever it runs. Unset: the budget on an event loop, else `patient`.
BUDGET = -1.0
_hurrying: contextvars.ContextVar[float | None] = contextvars.ContextVar("hurrying", default=None)


def _budget(engine: Engine) -> _Budget:
    with _registry_lock:
        return _budgets.setdefault(engine, _Budget())


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_connect(dbapi_conn: sqlite3.Connection, record: Any) -> None:
    wait_ms = int(PATIENT_SECONDS * 1000)
    dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        f"PRAGMA busy_timeout={wait_ms}",
        "PRAGMA foreign_keys=ON",
    ):
        dbapi_conn.execute(pragma)
    record.info["wait_ms"] = record.info["patient_ms"] = wait_ms


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


# How long a checkpoint's second pass waits for this process's writers, then for other
# processes' writers and readers, before it leaves the WAL as it is until the next round.
RESTART_WAIT = 0.05  # seconds
RESTART_WAIT_MS = 20


def checkpoint(engine: Engine) -> None:
    """Copy what the WAL holds into the database, and let the next write start the WAL
    over from its beginning.

    A PASSIVE checkpoint waits on no one, but under writes that never pause it never
    finishes: writers append while it copies, so the WAL is never wholly copied when the
    next write begins, SQLite never starts it over, and the file grows for as long as the
    load lasts (bench/tracker_load.py: ~40 MB a second at peak, until the backstop
    checkpoint ran inside a commit on the event loop and stalled it for 100-240 ms). So
    the PASSIVE pass copies the bulk, and a RESTART pass copies what came in meanwhile (a
    few milliseconds of work and one sync) while this process's writers wait for the write
    lock (the event loop's go to a thread meanwhile, `db.no_wait`); other processes' writers
    and readers are waited for at most `RESTART_WAIT_MS`, or the pass is left to the next
    round.
    """
    raw = engine.raw_connection()  # outside a transaction: the pragma cannot run in one
    try:
        driver: Any = raw.driver_connection
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
        lock = _budget(engine).write_lock
        if not lock.acquire(timeout=RESTART_WAIT):
            return
        try:
            driver.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            driver.execute("PRAGMA wal_checkpoint(RESTART)")
        finally:
            lock.release()
            driver.execute(f"PRAGMA busy_timeout={raw.info['wait_ms']}")
    finally:
        raw.close()


def _sqlite_begin(conn: Connection) -> None:
    # Writers take the write lock up front: allocation reads then writes, and a
    # deferred transaction could not be upgraded safely across processes.
    # Straight to the driver: SQLAlchemy's statement machinery cost more than the BEGIN;
    # its errors are wrapped as SQLAlchemy's would be, so `except DBAPIError` sees them.
    options = conn.get_execution_options()
    driver = conn.connection.driver_connection
    info = conn.connection.info
    statement = "BEGIN IMMEDIATE" if options.get("write", True) else "BEGIN DEFERRED"
    try:
        wait_ms = options.get("wait_ms", info.get("patient_ms"))
        if wait_ms is not None and info.get("wait_ms") != wait_ms:
            driver.execute(f"PRAGMA busy_timeout={wait_ms}")  # type: ignore[union-attr]
            info["wait_ms"] = wait_ms
        driver.execute(statement)  # type: ignore[union-attr]
    except sqlite3.Error as exc:
        busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
        if options.get("no_wait") and busy:
            raise WouldWait("another process holds the write lock") from exc
        raise DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


class WouldWait(Exception):
    """SQLite's write lock is taken (by another process, or another thread of this one)
    and the caller asked not to wait for it (`no_wait`). Nothing was done: the work can
    run again where waiting holds up no one else (a thread instead of the event loop)."""


@dataclass(slots=True)
class _Attempt:
    began: bool = False  # a write transaction began: from then on, work may be done


_no_wait: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar("no_wait", default=None)


@contextmanager
def no_wait() -> Iterator[None]:
    """Inside, the first SQLite write transaction raises `WouldWait` at once instead of
    waiting for the write lock (SQLite's busy handler sleeps 1, 2, 5, 10 ms... between
    tries, and on the event loop every other answer would sleep with it); later ones
    wait as usual, as the first one's work is done and must not be done twice. For
    work run inline on the event loop (`web.dbcall.run_db`)."""
    token = _no_wait.set(_Attempt())
    try:
        yield
    finally:
        _no_wait.reset(token)


def waiting_at_most(seconds: float, fn: Callable[..., R], *args: Any) -> R:
    """`fn(*args)`, waiting for the database no longer than `seconds` (`BUDGET`: the
    engine's busy budget) on engines that have a budget: for work that `no_wait` moved
    off the event loop, which must still answer its caller in time."""
    token = _hurrying.set(seconds)
    try:
        return fn(*args)
    finally:
        _hurrying.reset(token)


def make_engine(url: str, busy_budget: float | None = None, **kwargs: Any) -> Engine:
    """An engine on `url`. `busy_budget` (seconds; a web server's): how long a request
    handler on the event loop, or work run by `within`, waits for the database before
    it is treated as away (SQLite: for the write lock another process holds; PostgreSQL:
    for any answer at all). Other callers wait up to `PATIENT_SECONDS`."""
    budget = _Budget(hurried=busy_budget)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, **kwargs)
    else:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        # An unreachable host must fail fast: calls are then routed from the cache.
        kwargs.setdefault("connect_args", {"connect_timeout": 3})
        engine = create_engine(url, **kwargs)
    with _registry_lock:
        _budgets[engine] = budget
    return engine


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    ensure_sqlite_dir(url)
    memory = ":memory:" in url or url in ("sqlite://", "sqlite:///")
    if not memory:
        kwargs.setdefault("pool_size", 16)
        kwargs.setdefault("max_overflow", 48)
    engine = create_engine(
        url, connect_args={"check_same_thread": False, "timeout": PATIENT_SECONDS}, **kwargs
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


REPORT_WORK_MEM = "64MB"


def roomy(conn: Connection) -> None:
    """A read that sorts or hashes a great many rows (a report over a year of visits):
    on PostgreSQL each of its sorts may take `REPORT_WORK_MEM` for the rest of this
    transaction instead of spilling to disk at the server's default (4 MB). Only a few
    people read reports at once; routing and the tracker keep the default."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")


def probe(engine: Engine) -> None:
    """A write transaction that does nothing: the database answers and (SQLite) its
    write lock can be had within the caller's wait. Raises as `transaction` does."""
    with transaction(engine) as conn:
        conn.exec_driver_sql("SELECT 1")


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


def _wait(engine: Engine) -> tuple[_Budget, float]:
    """How long this caller may wait: the busy budget on an event loop (SQLite work runs
    inline there, and every request behind it would wait too) or inside `within`; what
    `waiting_at_most` says; else `patient`."""
    budget = _budget(engine)
    if budget.hurried is None:
        return budget, budget.patient
    wait = _hurrying.get()
    if wait is not None:
        return budget, budget.hurried if wait == BUDGET else min(wait, budget.patient)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return budget, budget.patient
    return budget, budget.hurried


@contextmanager
def transaction(engine: Engine, write: bool = True) -> Iterator[Connection]:
    """One unit of work: commits on success, rolls back on any error.

    SQLite has one writer at a time anyway; threads of this process queue on a lock for
    it instead of in SQLite's busy handler, which sleeps with back-off and made tail
    latency jump to seconds under load. Other processes still wait in `busy_timeout`.
    Both waits are bounded by the engine's budget (`make_engine`): a caller that cannot
    have the database in time gets an `OperationalError`, as if it were away.
    """
    budget, wait = _wait(engine)
    attempt = _no_wait.get()
    if write and is_sqlite(engine) and attempt is not None and not attempt.began:
        if not budget.write_lock.acquire(blocking=False):
            raise WouldWait("another thread of this process holds the write lock")
        try:
            with _begin(engine, write, 0.0, no_wait=True) as conn:
                attempt.began = True
                yield conn
        finally:
            budget.write_lock.release()
    elif write and is_sqlite(engine):
        if not budget.write_lock.acquire(timeout=wait):
            raise _busy("another thread of this process holds the write lock")
        try:
            with _begin(engine, write, wait) as conn:
                yield conn
        finally:
            budget.write_lock.release()
    else:
        with _begin(engine, write, wait) as conn:
            yield conn


def _busy(why: str) -> OperationalError:
    return OperationalError(
        "BEGIN IMMEDIATE", None, sqlite3.OperationalError(f"database is locked ({why})")
    )


@contextmanager
def _begin(engine: Engine, write: bool, wait: float, no_wait: bool = False) -> Iterator[Connection]:
    with engine.connect() as conn:
        conn.execution_options(write=write, wait_ms=int(wait * 1000), no_wait=no_wait)
        with conn.begin():
            yield conn


def within(engine: Engine, fn: Callable[..., R], *args: Any, seconds: float | None = None) -> R:
    """`fn(*args)`, or an `OperationalError` once the engine's busy budget (or `seconds`,
    for a caller with nothing better to answer than the database's answer) has passed.

    For work whose caller answers someone who must not wait (a routing answer, a health
    check). SQLite: runs here, and its waits for the write lock are bounded by the budget.
    PostgreSQL: a stopped or hung server accepts the connection and never answers, and
    nothing in the driver bounds a query already sent (the server enforces
    `statement_timeout`, and it is the one stopped), so `fn` runs on a helper thread and
    the caller stops waiting at the budget. `fn` may then still finish later: it must be
    work whose repetition is harmless (a call event is stored under its dedup key).
    """
    budget = _budget(engine)
    if budget.hurried is None or is_sqlite(engine):
        return waiting_at_most(BUDGET if seconds is None else seconds, fn, *args)
    limit = budget.hurried if seconds is None else seconds
    future = _helpers.submit(fn, args)
    try:
        return future.result(timeout=limit)
    except FutureTimeout:
        future.cancel()  # not started yet (helpers all waiting): never runs
        raise OperationalError(
            getattr(fn, "__name__", "database work"),
            None,
            TimeoutError(f"no answer from the database within {limit:g} s"),
        ) from None


class _Helpers:
    """A few daemon threads for `within`: a thread stuck on a hung server must neither
    pile up nor keep the process from exiting."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._jobs = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., R], args: tuple[Any, ...]) -> Future[R]:
        future: Future[R] = Future()
        self._jobs.put((future, fn, args))
        with self._lock:
            if len(self._threads) < self._size:
                thread = threading.Thread(
                    target=self._run, name="callpath-db-deadline", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return future

    def _run(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to the caller, if it still waits
                future.set_exception(exc)


_helpers = _Helpers(8)


@contextmanager
def pipelined(engine: Engine) -> Iterator[Connection]:
    """A write transaction whose statements, BEGIN and COMMIT included, queue up in
    PostgreSQL's pipeline mode: the driver waits for the server only when a result is
    read, and at COMMIT. Elsewhere the same as `transaction`.

    The driver sends a BEGIN it starts itself on its own and waits for it, so the
    transaction is begun and committed here with plain statements on a connection put in
    autocommit for the while. An error rolls back before the connection goes back.
    """
    if engine.dialect.name != "postgresql":
        with transaction(engine) as conn:
            yield conn
        return
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        driver.autocommit = True
        try:
            with driver.pipeline():
                driver.execute("BEGIN")
                yield conn
                driver.execute("COMMIT")
        except BaseException:
            driver.rollback()  # leaves the pipeline's aborted state, ends the transaction
            raise
        finally:
            driver.autocommit = False


@contextmanager
def batched(conn: Connection) -> Iterator[None]:
    """Statements inside whose results are not read go out in one round trip where the
    driver can (PostgreSQL pipeline mode); elsewhere, or inside `pipelined`, this changes
    nothing."""
    if conn.dialect.name != "postgresql":
        yield
        return
    driver: Any = conn.connection.driver_connection
    if driver.pgconn.pipeline_status:  # already queueing: a nested pipeline would sync here
        yield
        return
    with driver.pipeline():
        yield
