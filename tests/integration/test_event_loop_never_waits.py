"""SQLite: request work runs inline on the event loop, but never waits there for the write
lock. While another process holds it (the apply process saving a call, a CLI command, a
backup), the work moves to a thread and the loop goes on answering everything else."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, text

from callpath.storage import db
from callpath.web.dbcall import run_db
from tests.helpers import run_async


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "busy.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}", busy_budget=30.0)  # generous: a busy CI
    with db.transaction(engine) as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER, thread TEXT)"))
    yield engine, path
    engine.dispose()


def _insert(engine: Engine, x: int) -> str:
    with db.transaction(engine) as conn:
        conn.execute(
            text("INSERT INTO t VALUES (:x, :thread)"),
            {"x": x, "thread": threading.current_thread().name},
        )
    return threading.current_thread().name


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with db.transaction(engine, write=False) as conn:
        return [tuple(r) for r in conn.execute(text("SELECT x, thread FROM t ORDER BY x"))]


def test_a_write_meeting_another_process_lock_leaves_the_loop_free(
    sqlite_file: tuple[Engine, Path],
) -> None:
    engine, path = sqlite_file
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # "another process"
    other.execute("BEGIN IMMEDIATE")
    ctx = SimpleNamespace(inline_db=True)

    async def scenario() -> tuple[bool, str, str]:
        write = asyncio.create_task(run_db(ctx, _insert, engine, 1))  # type: ignore[arg-type]
        ran_meanwhile = asyncio.Event()

        async def other_answer() -> None:
            ran_meanwhile.set()

        answer = asyncio.create_task(other_answer())
        await asyncio.wait_for(ran_meanwhile.wait(), timeout=60)
        await answer
        still_waiting = not write.done()  # the loop answered while the write waited
        other.execute("COMMIT")
        written_in = await asyncio.wait_for(write, timeout=60)
        return still_waiting, written_in, threading.current_thread().name

    still_waiting, thread, loop_thread = run_async(scenario())
    other.close()
    assert still_waiting
    assert thread != loop_thread  # waited in a thread, not on the event loop
    assert _rows(engine) == [(1, thread)]  # and was written once, after the lock came free


def test_with_the_lock_free_the_write_runs_inline(sqlite_file: tuple[Engine, Path]) -> None:
    engine, _ = sqlite_file
    ctx = SimpleNamespace(inline_db=True)

    async def scenario() -> tuple[str, str]:
        thread = await run_db(ctx, _insert, engine, 1)  # type: ignore[arg-type]
        return thread, threading.current_thread().name

    thread, loop_thread = run_async(scenario())
    assert thread == loop_thread
    assert _rows(engine) == [(1, thread)]


def test_only_the_first_write_may_be_refused(sqlite_file: tuple[Engine, Path]) -> None:
    """Once a write went through, a later one in the same work waits as before: running
    the work again in a thread would do the first write twice."""
    engine, path = sqlite_file
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    with db.no_wait(), pytest.raises(db.WouldWait):
        _insert(engine, 0)  # a first write is refused at once
    other.execute("COMMIT")
    with db.no_wait():
        _insert(engine, 1)
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
        release.start()
        _insert(engine, 2)  # a second one waits for the lock instead
        release.join()
    other.close()
    assert [x for x, _ in _rows(engine)] == [1, 2]
