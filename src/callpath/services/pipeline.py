"""The inbound call pipeline: verify, decide the route, store (or spool), apply later.

`receive` is what a webhook waits for: it never folds or matches (that is `apply`, run
after the answer went out). With the database unreachable it answers from the route
cache and spools the event to disk; `work` (a background thread per app process) drains
the spool, applies events left pending and refreshes the route cache. While an apply
process (`workers.applier`) is alive, the web process folds nothing itself: it stores,
and the applier applies.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from callpath.domain import phone
from callpath.domain.calls import CallEvent
from callpath.services import calls, heartbeat, leads
from callpath.services.calls import Clock, Integration, Received
from callpath.services.routing import RouteCache, forward_to
from callpath.services.spool import Spool
from callpath.settings import Settings
from callpath.storage import call_repo, db
from callpath.storage.db import defer_checkpoints, is_sqlite, transaction
from callpath.telephony.base import Ignored, Unauthorized
from callpath.telephony.generic import adapter as generic

LEAD_BATCHES = 8  # lead batches per round of the call worker (each a short write)
log = logging.getLogger("callpath.calls")


Verifier = Callable[[Integration, float], None]  # (integration, now); raises Unauthorized
Parser = Callable[[bytes], tuple[CallEvent, str]]  # raw body -> (event, dedup key)


class Unavailable(Exception):
    """Neither the database nor the route cache can vouch for the sender (answered 503)."""


@dataclass(frozen=True, slots=True)
class Reply:
    body: dict[str, Any]
    call_key: str | None = None  # set when the event was stored and awaits `apply`


class CallPipeline:
    def __init__(
        self,
        engine: Engine,
        routes: RouteCache,
        spool: Spool,
        clock: Clock,
        applier_heartbeat: Path | None = None,
    ) -> None:
        self.engine = engine
        self.routes = routes
        self.spool = spool
        self.clock = clock
        self.integration_max_age = 30.0  # seconds; see `_integration`
        self._due: queue.SimpleQueue[str] | None = None  # set while `work` runs
        # An apply process's heartbeat file (None: there is never one, e.g. on SQLite);
        # `applier_alive` is re-read by every round of `work`.
        self.applier_heartbeat = applier_heartbeat
        self.applier_alive = False
        self.wal_checkpoints = False  # SQLite: checkpoint the WAL every round (`db.checkpoint`)

    # -- receiving -------------------------------------------------------------------
    def receive(
        self, kind: str, integration_id: str, body: bytes, verify: Verifier, parse: Parser
    ) -> Reply:
        """One delivery of any provider: `verify` raises `Unauthorized` unless the sender
        proved it knows the integration's secret; `parse` turns the stored `body` into the
        call event and its dedup key (`telephony.parser(kind)` must read it the same
        way, as folding parses stored bodies again)."""
        now = self.clock()
        integ, db_ok = self._integration(integration_id)
        if integ is None or integ.kind != kind:
            raise Unauthorized("unknown integration")
        if not integ.active:
            raise Unauthorized("integration is disabled")
        verify(integ, now)
        try:
            event, dedup_key = parse(body)
        except Ignored as exc:
            return Reply({"ignored": str(exc)})
        item = calls.received(integ, event, dedup_key, body, now)
        return self.accept(integ, event, item, db_ok)

    def receive_generic(
        self, integration_id: str, timestamp: str | None, signature: str | None, body: bytes
    ) -> Reply:
        def verify(integ: Integration, now: float) -> None:
            generic.verify(integ.secret, timestamp, signature, body, now)

        return self.receive("generic", integration_id, body, verify, generic.parse)

    def accept(self, integ: Integration, event: CallEvent, item: Received, db_ok: bool) -> Reply:
        """Decide the route (a `started`) and store the event, in one transaction; with the
        database away, route from the cache and spool the event."""
        if db_ok:
            try:  # bounded: a busy or hung database is answered as one that is away
                return db.within(
                    self.engine, _store, self.engine, integ, event, item, seconds=self._wait()
                )
            except db.UNAVAILABLE:
                log.warning("database unavailable: spooling call event %s", item.call_key)
        response: dict[str, Any] = {"call": item.call_key, "event": event.kind}
        if _routed_event(event):
            e164 = phone.try_e164(event.called, integ.region)
            response["forward_to"] = self.routes.forward_to(integ, e164)
        self.spool.put(replace(item, response=response).as_record())
        return Reply(response)

    def _wait(self) -> float | None:
        """How long a routing answer waits for the database: the busy budget (None) once
        the route cache can answer instead; before its first load the database is the
        only source of an answer, so waiting beats a 503 or a guess (a process just
        started, or a test app that never loads it)."""
        return None if self.routes.loaded else db.PATIENT_SECONDS

    def _integration(self, integration_id: str) -> tuple[Integration | None, bool]:
        """From the route cache while it is fresh (a refresh from the database within
        `integration_max_age`), else from the database, else from the cache or snapshot."""
        if len(integration_id) > 24 or not (
            integration_id.isascii() and integration_id.isprintable()
        ):
            return None, True  # not an id we give out (a NUL would even fail in the driver)
        cached = self.routes.fresh_integration(integration_id, self.integration_max_age)
        if cached is not None:
            return cached, True
        try:
            row = db.within(
                self.engine, _read_integration, self.engine, integration_id, seconds=self._wait()
            )
            return (Integration.from_row(row) if row else None), True
        except db.UNAVAILABLE:
            cached = self.routes.integration(integration_id)
            if cached is None and not self.routes.loaded:
                raise Unavailable("database unavailable and no route cache yet") from None
            return cached, False

    # -- applying --------------------------------------------------------------------
    def apply(self, key: str) -> None:
        """Fold and match one call; a failure leaves its events pending for `work`."""
        try:
            calls.apply(self.engine, key, self.clock)
        except DBAPIError:
            log.warning("database unreachable: call %s stays pending", key)

    def drain_spool(self) -> int:
        done = 0
        for path, record in self.spool.claim():
            item = calls.parse_record(record)
            try:
                with transaction(self.engine) as conn:
                    _, new = calls.store(conn, item)
            except DBAPIError:
                self.spool.release(path)
                break
            self.spool.done(path)
            if new and not self.applier_alive:
                self.apply(item.call_key)
            done += 1
        return done

    def tracks(self, integ: Integration, e164: str) -> bool:
        """Whether the integration's account tracks `e164`: the fresh route cache first,
        else one lookup; with the database away, True (the route cache decides the call,
        which must get through)."""
        if self.routes.tracks(integ.account_id, e164, self.integration_max_age):
            return True
        try:  # bounded like `accept`: a busy or hung database is one that is away
            return db.within(self.engine, _tracked, self.engine, integ.account_id, e164)
        except db.UNAVAILABLE:
            return True

    def apply_soon(self, key: str) -> bool:
        """Leave a stored call to whoever folds calls here: a live apply process (which
        finds its events by itself) or this process's running worker (False: neither)."""
        due = self._due
        if due is None:
            return False
        if not self.applier_alive:
            due.put(key)
        return True

    def work(self, stop: threading.Event, every: float, refresh_every: float) -> None:
        """The background loop of one app process: every `every` seconds the spool, calls
        left pending and (every `refresh_every`) the route cache; in between, the calls
        handed over by `apply_soon`, one at a time (one thread, not one per request)."""
        due: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._due = due
        next_refresh = 0.0
        try:
            while not stop.is_set():
                refresh = next_refresh <= self.clock()
                self._round(refresh)
                if refresh:
                    next_refresh = self.clock() + refresh_every
                self._apply_due(due, stop, time.monotonic() + every)
        finally:
            self._due = None
            self._finish(due)

    def _finish(self, due: queue.SimpleQueue[str]) -> None:
        """On the way out: apply what was handed over, then one last round (spool, calls
        left pending), so a graceful stop leaves no call half-folded until the next start."""
        while True:
            try:
                key = due.get_nowait()
            except queue.Empty:
                break
            self._apply_logged(key)
        self._round(refresh=False)

    def _round(self, refresh: bool) -> None:
        self.applier_alive = heartbeat.alive(self.applier_heartbeat)
        try:
            if refresh:
                self.refresh_routes()
            self.drain_spool()
            if not self.applier_alive:
                calls.apply_pending(self.engine, self.clock)
                for _ in range(LEAD_BATCHES):  # a backlog is worked off a batch at a time
                    if not leads.classify_due(self.engine, self.clock):
                        break
        except DBAPIError:
            pass  # the database is away; try again next round
        except Exception:  # a bug here must not stop the loop that drains the spool
            log.exception("call worker round failed")
        if self.wal_checkpoints:
            self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            db.checkpoint(self.engine)
        except Exception:  # a busy or broken file: the next round tries again
            log.warning("WAL checkpoint failed", exc_info=True)

    def _apply_due(self, due: queue.SimpleQueue[str], stop: threading.Event, until: float) -> None:
        while not stop.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            try:
                key = due.get(timeout=min(left, 0.25))
            except queue.Empty:
                continue
            self._apply_logged(key)

    def _apply_logged(self, key: str) -> None:
        try:
            self.apply(key)
        except Exception:  # one bad call must not stop the worker
            log.exception("applying call %s failed", key)

    def refresh_routes(self) -> None:
        with transaction(self.engine, write=False) as conn:
            self.routes.refresh(conn)


def _store(engine: Engine, integ: Integration, event: CallEvent, item: Received) -> Reply:
    """Decide the route (a `started`) and store the event, in one transaction."""
    response: dict[str, Any] = {"call": item.call_key, "event": event.kind}
    with transaction(engine) as conn:
        if _routed_event(event):
            response["forward_to"] = _route(conn, integ, event.called)
        stored, new = calls.store(conn, replace(item, response=response))
    return Reply(stored, item.call_key if new else None)


def _routed_event(event: CallEvent) -> bool:
    """A call's start is routed; a call the business makes (outbound) is not ours to route."""
    return event.kind == "started" and event.direction != "outbound"


def _tracked(engine: Engine, account_id: int, e164: str) -> bool:
    with transaction(engine, write=False) as conn:
        return call_repo.number_for_routing(conn, account_id, e164) is not None


def _read_integration(engine: Engine, integration_id: str) -> dict[str, Any] | None:
    with transaction(engine, write=False) as conn:
        return call_repo.integration(conn, integration_id)


def _route(conn: Connection, integ: Integration, called: str | None) -> str | None:
    """Where a new call goes: the dialled number's destination, else the site default."""
    e164 = phone.try_e164(called, integ.region)
    if not e164:
        return integ.default_destination
    return forward_to(call_repo.number_for_routing(conn, integ.account_id, e164), integ)


def build(settings: Settings, engine: Engine) -> CallPipeline:
    """The pipeline of a process that receives calls (a web process, the Asterisk
    listener): its route cache and spool in the spool folder, the apply process's
    heartbeat (while it beats, this process folds nothing itself), and on SQLite the WAL
    checkpoints moved from the commits to the call worker."""
    routes = RouteCache(settings.spool_dir / "routes.json")
    beats = heartbeat.heartbeat_path(settings.spool_dir)
    pipeline = CallPipeline(engine, routes, Spool(settings.spool_dir), time.time, beats)
    if is_sqlite(engine):
        defer_checkpoints(engine)
        pipeline.wal_checkpoints = True
    return pipeline
