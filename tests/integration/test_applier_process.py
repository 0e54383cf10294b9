"""`callpath serve` on PostgreSQL folds calls in an apply process of its own: started with
the server, started again if it dies, stopped after the server's last round (no call is
left unfolded), and never started on SQLite."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.storage.tables import calls
from tests.helpers import (
    Hook,
    ServerProcess,
    add_hook,
    free_port,
    iso,
    pending_calls,
    seed_site,
    wait_for,
)

pytestmark = pytest.mark.slow
MODULE = "callpath.services.applier"


def _children(pid: int) -> dict[int, str]:
    """Child processes of `pid` and their command lines (Linux /proc)."""
    found: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                found[int(stat.parent.name)] = cmdline.decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def _appliers(server: ServerProcess) -> list[int]:
    assert server._proc is not None
    return [pid for pid, cmd in _children(server._proc.pid).items() if MODULE in cmd]


def _post_call(client: httpx.Client, hook: Hook, call_id: str, to: str) -> None:
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    now = time.time()
    for event in (
        {**base, "event": "started", "at": iso(now)},
        {**base, "event": "ended", "at": iso(now + 30), "talk": 20, "status": "answered"},
    ):
        assert hook.post(client, event).status_code == 200


def _ended(engine: Engine) -> list[str]:
    query = select(calls.c.provider_call_id).where(calls.c.state == "ended")
    with engine.connect() as conn:
        return sorted(conn.execute(query).scalars())


def test_serve_folds_calls_in_an_apply_process_it_keeps_running(
    engine: Engine, database_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    if not is_postgres:
        pytest.skip("the apply process serves PostgreSQL only")
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    with ServerProcess(database_url, free_port(), tmp_path / "server.log") as server:
        first = wait_for(lambda: _appliers(server))
        client = httpx.Client(base_url=server.url, timeout=10)
        _post_call(client, hook, "one", site.pool[0])
        wait_for(lambda: _ended(engine) == ["one"])

        os.kill(first[0], signal.SIGKILL)  # it died: serve starts another
        again = wait_for(lambda: [p for p in _appliers(server) if p not in first])
        _post_call(client, hook, "two", site.pool[0])
        wait_for(lambda: _ended(engine) == ["one", "two"])
        _post_call(client, hook, "last", site.pool[0])  # stopped right away
    assert _ended(engine) == ["last", "one", "two"]
    assert pending_calls(engine) == set()
    assert not Path(f"/proc/{again[0]}").exists()  # the apply process stopped too


def test_serve_on_sqlite_folds_calls_without_an_apply_process(
    engine: Engine, database_url: str, is_postgres: bool, tmp_path: Path
) -> None:
    if is_postgres:
        pytest.skip("SQLite only")
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    with ServerProcess(database_url, free_port(), tmp_path / "server.log") as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        _post_call(client, hook, "one", site.pool[0])
        wait_for(lambda: _ended(engine) == ["one"])
        assert _appliers(server) == []
