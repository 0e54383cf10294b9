"""A hung PostgreSQL (its processes stopped: connections are accepted, nothing answers)
costs a routing answer no more than the database budget: `started` is answered from the
route cache and spooled while the server is still stopped, and stored once it runs again
(once: the late store and the spooled copy share a dedup key)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from callpath.storage.db import make_engine
from callpath.storage.migrate import upgrade
from callpath.storage.tables import call_events
from tests.helpers import (
    OWN_CLUSTER,
    PgCluster,
    ServerProcess,
    add_hook,
    free_port,
    iso,
    pending_calls,
    seed_site,
    wait_for,
)

pytestmark = OWN_CLUSTER


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    pg = PgCluster()
    pg.start()
    yield pg
    _signal_all(pg, signal.SIGCONT)  # never leave a stopped server behind
    pg.remove()


def _processes(pg: PgCluster) -> list[int]:
    """The postmaster (first line of postmaster.pid) and every process it started."""
    postmaster = int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def _signal_all(pg: PgCluster, sig: signal.Signals) -> None:
    for pid in _processes(pg):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _stored(url: str, call_id: str) -> list[str] | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            bodies = conn.execute(select(call_events.c.body)).scalars().all()
    except Exception:
        return None
    finally:
        engine.dispose()
    return [b for b in bodies if json.loads(b)["call_id"] == call_id]


def test_a_stopped_server_is_answered_from_the_route_cache(
    cluster: PgCluster, tmp_path: Path
) -> None:
    upgrade(cluster.url)
    engine = make_engine(cluster.url)
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    spool = tmp_path / "spool"
    # No route refresh during the test: the server's one idle pooled connection is left
    # for the first hook below, which thus waits on a server that never answers.
    env = {"CALLPATH_SPOOL_DIR": str(spool), "CALLPATH_ROUTE_REFRESH_SECONDS": "3600"}
    with ServerProcess(cluster.url, free_port(), tmp_path / "server.log", env=env) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        wait_for(lambda: (spool / "routes.json").is_file())  # the route cache is loaded
        warm = {"event": "started", "caller": "+79161234567", "called": site.pool[0]}
        assert hook.post(client, warm | {"call_id": "warm", "at": iso(time.time())}).is_success
        wait_for(lambda: not pending_calls(engine))  # folded: the server is idle
        engine.dispose()
        _signal_all(cluster, signal.SIGSTOP)
        try:  # every answer below arrives while the server is still stopped
            routed = hook.post(client, warm | {"call_id": "hung-1", "at": iso(time.time())})
            again = hook.post(client, warm | {"call_id": "hung-2", "at": iso(time.time())})
            health = client.get("/healthz")
            spooled = [p for p in spool.iterdir() if ".event" in p.name]
        finally:
            _signal_all(cluster, signal.SIGCONT)
        assert (routed.status_code, again.status_code) == (200, 200), routed.text
        assert routed.json()["forward_to"] == again.json()["forward_to"] == site.original
        assert health.status_code == 503
        assert (health.json()["ok"], health.json()["database"]) == (False, "unavailable")
        assert len(spooled) == 2
        for call_id in ("hung-1", "hung-2"):
            wait_for(lambda c=call_id: _stored(cluster.url, c), seconds=60)
        wait_for(lambda: not [p for p in spool.iterdir() if ".event" in p.name], seconds=60)
    assert [len(_stored(cluster.url, c) or []) for c in ("hung-1", "hung-2")] == [1, 1]
