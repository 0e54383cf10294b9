"""Another process holding SQLite's write lock (a long CLI command, a backup, the Asterisk
listener) is a database that is away for as long as a request may wait: a routing answer
comes from the route cache and the event is spooled, the tracker and /healthz answer 503
with a reason, and the event is stored once the lock is free."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.storage.db import transaction
from callpath.storage.tables import call_events
from tests.helpers import ServerProcess, add_hook, free_port, iso, seed_site, wait_for


@pytest.fixture
def sqlite_path(database_url: str) -> Path:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    return Path(database_url.removeprefix("sqlite:///"))


def _stored(engine: Engine, call_id: str) -> list[str]:
    with transaction(engine, write=False) as conn:  # a reader: not blocked by the lock
        bodies = conn.execute(select(call_events.c.body)).scalars().all()
    return [b for b in bodies if json.loads(b)["call_id"] == call_id]


def _spooled(spool: Path) -> list[Path]:
    """Events on disk, waiting or claimed by the call worker that is trying to store them."""
    return [p for p in spool.iterdir() if ".event" in p.name]


def test_a_write_lock_held_elsewhere_is_answered_from_the_route_cache(
    engine: Engine, database_url: str, sqlite_path: Path, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    spool = tmp_path / "spool"
    env = {"CALLPATH_SPOOL_DIR": str(spool)}
    with ServerProcess(database_url, free_port(), tmp_path / "server.log", env=env) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        wait_for(lambda: (spool / "routes.json").is_file())  # the route cache is loaded
        event = {
            "event": "started",
            "call_id": "busy-1",
            "caller": "+79161234567",
            "called": site.pool[0],
            "at": iso(time.time()),
        }
        other = sqlite3.connect(sqlite_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:  # every answer below arrives while the lock is still held
            routed = hook.post(client, event)
            session = client.post(
                "/t/v1/session",
                content=json.dumps({"site": site.key, "url": "https://shop.example/"}),
            )
            health = client.get("/healthz")
            spooled = _spooled(spool)
            stored_meanwhile = _stored(engine, "busy-1")
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert routed.status_code == 200, routed.text
        assert routed.json()["forward_to"] == site.original
        assert session.status_code == 503
        assert session.json() == {"error": "database busy, try again shortly"}
        assert session.headers["access-control-allow-origin"] == "*"
        assert health.status_code == 503
        assert health.json()["ok"] is False
        assert len(spooled) == 1 and stored_meanwhile == []
        # nothing is lost: the call worker stores the spooled event once the lock is free
        wait_for(lambda: _stored(engine, "busy-1"), seconds=30)
        wait_for(lambda: not _spooled(spool))
        assert len(_stored(engine, "busy-1")) == 1
        assert client.get("/healthz").status_code == 200
