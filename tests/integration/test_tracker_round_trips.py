"""A session start on PostgreSQL waits on the server twice: once for the number it takes,
once for COMMIT (ARCHITECTURE.md, the tracker hot path). Counted on the wire with libpq's
own trace of the connection, not timed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine

from callpath.services import tracking
from callpath.storage.db import make_engine, transaction
from callpath.storage.site_repo import load_site_config
from tests.helpers import Clock, seed_site

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def _waits(trace: str) -> int:
    """Times the client sent something, then read the server's answer: each F-to-B turn
    of the trace (psycopg sends a pipeline's queued statements together, at a read)."""
    turns, last = 0, ""
    for line in trace.splitlines():
        fields = line.split("\t")
        side = next((f for f in fields[:2] if f in ("F", "B")), "")
        if side == "B" and last == "F":
            turns += 1
        last = side or last
    return turns


@contextmanager
def _traced(engine: Engine, path: Path) -> Iterator[None]:
    """libpq's protocol trace of the engine's only connection, into `path`."""
    raw = engine.raw_connection()
    pgconn = raw.driver_connection.pgconn  # type: ignore[union-attr]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    pgconn.trace(fd)
    raw.close()
    try:
        yield
    finally:
        raw = engine.raw_connection()
        raw.driver_connection.pgconn.untrace()  # type: ignore[union-attr]
        raw.close()
        os.close(fd)


def test_a_new_visitor_costs_two_round_trips(
    engine: Engine, database_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    if not is_postgres:
        pytest.skip("round trips are PostgreSQL's (SQLite is in-process)")
    seeded = seed_site(engine, pool_size=3)
    with transaction(engine) as conn:
        site = load_site_config(conn, site_id=seeded.site_id)
    assert site is not None
    one = make_engine(database_url, pool_size=1, max_overflow=0)  # the traced connection
    clock = Clock()
    visit = tracking.Visit(
        url="https://shop.example/?utm_source=yandex&utm_medium=cpc", user_agent=UA
    )
    try:
        tracking.start_session(one, site, visit, clock)  # connects, loads types
        trace = tmp_path / "libpq.trace"
        with _traced(one, trace):
            got = tracking.start_session(one, site, visit, clock)
    finally:
        one.dispose()
    assert got.reason == "pool"
    assert _waits(trace.read_text(errors="replace")) == 2
