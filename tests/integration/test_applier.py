"""The apply process: it folds what the web process stored, skips a call it cannot apply
without holding up the others, and a web process folds nothing while it is alive (and
everything again once its heartbeat went stale)."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

from callpath.domain.calls import call_key
from callpath.services import heartbeat
from callpath.services.calls import Received
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage.db import make_engine, transaction
from callpath.storage.migrate import upgrade
from callpath.storage.tables import call_events, calls
from callpath.workers.applier import Applier
from tests.helpers import Hook, Seeded, add_hook, iso, pending_calls, seed_site


class Clock:
    """Settable time, so "pending for more than 5 s" needs no waiting."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _store_call(pipeline: CallPipeline, hook: Hook, call_id: str, to: str) -> str:
    """A started and an ended event of one call, stored the way a webhook stores them."""
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    key = ""
    for event in (
        {**base, "event": "started", "at": iso(pipeline.clock())},
        {**base, "event": "ended", "at": iso(pipeline.clock() + 30), "talk": 20},
    ):
        body = json.dumps(event).encode()
        h = hook.headers(body)
        reply = pipeline.receive_generic(
            hook.integration_id, h["X-Callpath-Timestamp"], h["X-Callpath-Signature"], body
        )
        key = reply.call_key or key
    return key


def _states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {row.id: row.state for row in conn.execute(select(calls.c.id, calls.c.state))}


def test_the_applier_folds_every_call_the_web_process_stored(
    engine: Engine, site: Seeded, hook: Hook, tmp_path: Path
) -> None:
    """While it runs it beats and applies what appears; stopped, it makes a last pass
    over what was stored meanwhile."""
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    keys = {_store_call(pipeline, hook, f"a{n}", site.pool[n % 2]) for n in range(3)}
    assert _states(engine) == {}  # stored only: nothing folds without a worker
    beat = tmp_path / "beat"
    stop = threading.Event()
    worker = Applier(engine, time.time, beat, busy_wait=0.01, idle_wait=0.05)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # generously: a busy machine is slow
    while _states(engine) != dict.fromkeys(keys, "ended") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert heartbeat.alive(beat)

    keys.add(_store_call(pipeline, hook, "last", site.pool[0]))
    stop.set()
    thread.join(10)

    assert _states(engine) == dict.fromkeys(keys, "ended")
    assert pending_calls(engine) == set()


def test_a_call_that_cannot_be_applied_does_not_hold_up_the_others(
    engine: Engine, site: Seeded, hook: Hook, tmp_path: Path
) -> None:
    """A visit code naming a session that does not exist fails the call's save (foreign
    key): that call is put aside for a while, the ones behind it are applied."""
    bad = "cbad0000000000000000000"
    entry = {"code": "4821", "session_id": "no-such-session", "visitor_id": "v", "at": 1.0}
    with transaction(engine) as conn:
        conn.execute(
            call_events.insert().values(
                account_id=site.account_id,
                integration_id=hook.integration_id,
                dedup_key="bad-visit-code",
                call_key=bad,
                kind="visit_code",
                received_at=time.time(),
                body=json.dumps({**entry, "call_id": "bad"}),
            )
        )
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    good = _store_call(pipeline, hook, "good", site.pool[0])
    worker = Applier(engine, time.time, None)

    worker.apply_due()  # the bad call comes first (oldest) and fails
    worker.apply_due()  # it is skipped now: the good one is applied
    tried_again = worker.apply_due()

    assert _states(engine) == {good: "ended"}
    assert pending_calls(engine) == {bad}
    assert tried_again == 0  # not retried at once (no busy loop on a call that fails)


@contextmanager
def _worker(pipeline: CallPipeline) -> Iterator[None]:
    """The web process's call worker, a round every 0.05 s."""
    stop = threading.Event()
    thread = threading.Thread(target=pipeline.work, args=(stop, 0.05, 3600.0), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


def _wait_rounds(seconds: float = 0.4) -> None:
    time.sleep(seconds)  # several rounds of a worker running every 0.05 s


def _until(predicate: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


@contextmanager
def _beating(path: Path) -> Iterator[None]:
    """A live applier's heartbeat (however slow the machine is, it stays fresh)."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            heartbeat.beat(path)
            stop.wait(0.1)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)


@pytest.fixture
def private_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    """A database of this test's own: the browser tests' shared server (and its apply
    process) folds every pending call of the shared one."""
    if database_url.startswith("sqlite"):
        url, drop = f"sqlite:///{tmp_path / 'private.sqlite3'}", None
    else:
        name = f"callpath_private_{uuid.uuid4().hex[:12]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url, drop = database_url.rsplit("/", 1)[0] + "/" + name, name
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    if drop is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{drop}" WITH (FORCE)'))
        admin.dispose()


def test_the_web_process_folds_nothing_while_an_applier_is_alive(
    private_engine: Engine, tmp_path: Path
) -> None:
    """Handed-over calls, calls pending for long and spooled events are all left to the
    applier while its heartbeat is fresh; once it is stale, the web process's worker
    takes them over (nothing is lost when the applier dies)."""
    engine = private_engine
    site = seed_site(engine, pool_size=2)
    hook = add_hook(engine, site)
    beat = tmp_path / "applier.alive"
    clock = Clock()
    spool = Spool(tmp_path / "spool")
    pipeline = CallPipeline(engine, RouteCache(None), spool, clock, beat)
    with _beating(beat), _worker(pipeline):
        _until(lambda: pipeline.applier_alive)
        handed = _store_call(pipeline, hook, "handed", site.pool[0])
        assert pipeline.apply_soon(handed)
        spooled = _spool_started(spool, pipeline, hook, site)
        clock.now += 60  # everything is pending for long now
        _until(lambda: pending_calls(engine) == {handed, spooled})  # the spooled one stored
        _wait_rounds()

        assert _states(engine) == {}
        assert pending_calls(engine) == {handed, spooled}
        assert list(spool.directory.glob("*.event")) == []

    os.utime(beat, (time.time() - 60, time.time() - 60))  # the applier died
    expected = {handed: "ended", spooled: "started"}
    with _worker(pipeline):
        _until(lambda: _states(engine) == expected)
    assert _states(engine) == expected
    assert pending_calls(engine) == set()


def _spool_started(spool: Spool, pipeline: CallPipeline, hook: Hook, site: Seeded) -> str:
    """A `started` event spooled while the database was away (as `accept` writes it)."""
    event: dict[str, Any] = {
        "event": "started",
        "call_id": "spooled",
        "at": iso(pipeline.clock()),
        "caller": "+79161234500",
        "called": site.pool[1],
    }
    key = call_key(hook.integration_id, "spooled")
    item = Received(
        integration_id=hook.integration_id,
        account_id=site.account_id,
        dedup_key="spooled-started",
        call_key=key,
        kind="started",
        received_at=pipeline.clock(),
        body=json.dumps(event),
        response={"call": key, "event": "started", "forward_to": site.original},
    )
    spool.put(item.as_record())
    return key


def test_a_stale_or_missing_heartbeat_means_no_applier(tmp_path: Path) -> None:
    beat = tmp_path / "applier.alive"
    assert not heartbeat.alive(beat)
    assert not heartbeat.alive(None)
    heartbeat.beat(beat)
    assert heartbeat.alive(beat)
    old = time.time() - heartbeat.ALIVE_WITHIN - 1
    os.utime(beat, (old, old))
    assert not heartbeat.alive(beat)
