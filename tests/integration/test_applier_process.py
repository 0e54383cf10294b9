"""`callpath serve` folds calls in an apply process of its own, on both backends: started
with the server, started again if it dies, stopped after the server's last round (no call
is left unfolded); while it is alive the web process folds nothing."""

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
MODULE = "callpath.workers.applier"


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
    return [pid for pid, cmd in _children(server.pid).items() if MODULE in cmd]


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
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
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


def test_while_the_apply_process_lives_the_web_process_folds_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """The apply process is frozen (SIGSTOP) just after a heartbeat: calls answered
    meanwhile stay pending until it runs again, so none was folded by the web process
    (on the event loop, where SQLite's folding used to run and delay the answers)."""
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    spool = tmp_path / "spool"
    with ServerProcess(database_url, free_port(), tmp_path / "server.log") as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        pid = wait_for(lambda: _appliers(server))[0]
        wait_for((spool / "applier.alive").exists)  # its first beat (before it, the web
        _post_call(client, hook, "warm", site.pool[0])  # process may fold "warm" itself)
        wait_for(lambda: _ended(engine) == ["warm"])
        beat = (spool / "applier.alive").stat().st_mtime
        wait_for(lambda: (spool / "applier.alive").stat().st_mtime > beat)
        os.kill(pid, signal.SIGSTOP)
        try:
            _post_call(client, hook, "frozen", site.pool[0])
            still_pending = pending_calls(engine)
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: _ended(engine) == ["frozen", "warm"])
    assert len(still_pending) == 1
