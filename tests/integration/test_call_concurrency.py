"""Events of the same calls delivered concurrently, shuffled and repeated, from several
threads: every call ends up folded from all its events, none is left behind."""

from __future__ import annotations

import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callpath.services import calls as calls_service
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage import call_repo
from callpath.storage.tables import call_events, calls
from tests.helpers import Hook, add_hook, iso, pending_calls, seed_site

CALLS = 30


def _deliver(pipeline: CallPipeline, hook: Hook, event: dict[str, Any]) -> str | None:
    """Sign and receive one event as its webhook would; the call's key when it was new."""
    body = json.dumps(event).encode()
    h = hook.headers(body)
    reply = pipeline.receive_generic(
        hook.integration_id, h["X-Callpath-Timestamp"], h["X-Callpath-Signature"], body
    )
    return reply.call_key


def _store(pipeline: CallPipeline, hook: Hook, event: dict[str, Any]) -> str:
    key = _deliver(pipeline, hook, event)
    assert key
    return key


def _hold_up_applier_a(monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread named "applier-A" sleeps 1 s on its way to saving (before it takes the
    call's turn); every other applier runs as it is."""
    real_serialize = call_repo.serialize_call

    def descheduled(conn: Any, call_key: str) -> None:
        if threading.current_thread().name == "applier-A":
            time.sleep(1.0)
        real_serialize(conn, call_key)

    monkeypatch.setattr(call_repo, "serialize_call", descheduled)


def test_concurrent_shuffled_deliveries_fold_every_call(engine: Engine, tmp_path: Path) -> None:
    site = seed_site(engine, pool_size=3)
    hook = add_hook(engine, site)
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    now = time.time()
    events: list[dict[str, Any]] = []
    for n in range(CALLS):
        base = {"call_id": f"k{n}", "caller": f"+7916100{n:04d}", "called": site.pool[n % 3]}
        events += [
            {**base, "event": "started", "at": iso(now + n)},
            {**base, "event": "answered", "at": iso(now + n + 3)},
            {**base, "event": "ended", "at": iso(now + n + 33), "talk": 30},
        ]
    deliveries = events * 2  # every event twice, as a retrying PBX would
    random.Random(3).shuffle(deliveries)

    def deliver(event: dict[str, Any]) -> None:
        key = _deliver(pipeline, hook, event)
        if key:
            pipeline.apply(key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, deliveries))
    with engine.connect() as conn:
        rows = conn.execute(select(calls.c.state, calls.c.status, calls.c.talk)).all()
        stored = conn.execute(select(call_events.c.id)).all()
        pending = conn.execute(
            select(call_events.c.id).where(call_events.c.applied_at.is_(None))
        ).all()
    assert len(stored) == 3 * CALLS
    assert pending == []
    assert sorted(rows) == [("ended", "answered", 30.0)] * CALLS


def test_a_slow_applier_cannot_overwrite_a_newer_fold(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applier A is descheduled between folding and saving; meanwhile `ended` arrives and
    applier B folds and saves all three events. A must not then save its older view (an
    early version did, on PostgreSQL). The delay is injected, nothing is faked: both
    appliers run the real code on the real database."""
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    now = time.time()
    base = {"call_id": "slow-1", "caller": "+79161234567", "called": site.pool[0]}

    key = _store(pipeline, hook, {**base, "event": "started", "at": iso(now)})
    _store(pipeline, hook, {**base, "event": "answered", "at": iso(now + 5)})
    _hold_up_applier_a(monkeypatch)  # A has folded {started, answered} and is about to save
    a = threading.Thread(target=pipeline.apply, args=(key,), name="applier-A")
    a.start()
    time.sleep(0.3)
    _store(pipeline, hook, {**base, "event": "ended", "at": iso(now + 65), "talk": 60})
    pipeline.apply(key)
    a.join()
    with engine.connect() as conn:
        row = conn.execute(select(calls).where(calls.c.id == key)).one()
    assert (row.state, row.status, row.talk) == ("ended", "answered", 60.0)


def test_two_appliers_of_the_same_events_fold_the_call_once(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Applier A is descheduled on its way to saving while applier B folds the same events
    (the web process's worker and the apply process can both pick a call). Whichever
    saves second finds nothing left to apply and leaves the row alone (on SQLite A holds
    the write lock while it sleeps, so A saves first; on PostgreSQL B does); applying
    again later changes nothing either. Each applier stamps the row with its own clock."""
    site = seed_site(engine, pool_size=1)
    hook = add_hook(engine, site)
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    started = {"event": "started", "call_id": "twice-1", "at": iso(time.time())}
    key = _store(pipeline, hook, {**started, "caller": "+79161234567", "called": site.pool[0]})
    _hold_up_applier_a(monkeypatch)
    saves: list[float] = []
    real_upsert = call_repo.upsert_call

    def counted(conn: Any, values: dict[str, Any]) -> None:
        saves.append(values["updated_at"])
        real_upsert(conn, values)

    monkeypatch.setattr(call_repo, "upsert_call", counted)
    a = threading.Thread(
        target=calls_service.apply, args=(engine, key, lambda: 2000.0), name="applier-A"
    )
    a.start()
    time.sleep(0.3)
    assert calls_service.apply(engine, key, lambda: 1000.0)
    a.join()
    assert calls_service.apply(engine, key, lambda: 3000.0)
    with engine.connect() as conn:
        row = conn.execute(select(calls).where(calls.c.id == key)).one()
    assert len(saves) == 1
    assert (row.state, row.updated_at) == ("started", saves[0])
    assert pending_calls(engine) == set()


def test_a_graceful_stop_applies_every_call_handed_to_the_worker(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app stops while the call worker is busy with one call and more are queued: the
    worker finishes all of them before it exits, instead of leaving them half-folded
    until the next start (a PostgreSQL CI run saw a SIP call stay 'missed' that way)."""
    site = seed_site(engine, pool_size=2)
    hook = add_hook(engine, site)
    pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp_path), time.time)
    now = time.time()
    keys = []
    for n in range(3):
        base = {"call_id": f"stop-{n}", "caller": f"+7916123450{n}", "called": site.pool[0]}
        for event in (
            {**base, "event": "started", "at": iso(now)},
            {**base, "event": "ended", "at": iso(now + 5)},
        ):
            key = _deliver(pipeline, hook, event)
        keys.append(key or "")
    real_serialize = call_repo.serialize_call

    def slow(conn: Any, call_key: str) -> None:
        time.sleep(0.5)  # the first call is still being applied when the stop comes
        real_serialize(conn, call_key)

    stop = threading.Event()
    worker = threading.Thread(target=pipeline.work, args=(stop, 3600.0, 3600.0))
    worker.start()
    deadline = time.monotonic() + 10
    while pipeline._due is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the first round (nothing pending: every event above was applied)
    monkeypatch.setattr(call_repo, "serialize_call", slow)
    with engine.begin() as conn:  # undo the applies above: the events are pending again
        conn.execute(call_events.update().values(applied_at=None))
        conn.execute(calls.update().values(state="ringing"))
    for key in keys:
        assert pipeline.apply_soon(key)
    time.sleep(0.1)
    stop.set()
    worker.join(30)
    assert not worker.is_alive()
    with engine.connect() as conn:
        states = conn.execute(select(calls.c.state)).scalars().all()
    assert sorted(states) == ["ended"] * 3
    assert pending_calls(engine) == set()
