"""Pool plans computed in the background of a server process (the pool page and the API).

A plan replays thousands of sessions, so it runs in a thread of the process that was asked;
the request only stores a "running" row. While it runs the thread touches the row every
`BEAT_SECONDS`; a row not touched for `plan_repo.STALE_SECONDS` lost its process (a
restart, a crash) and reads as failed, and the site may start another plan.

A site runs one plan at a time (its row says so, for every process), and a process
computes at most `MAX_RUNNING` plans at once whatever their sites: each keeps a core busy
for minutes, and the process also answers routing and the tracker. The count is per
process, not per database, because the CPU it guards is the process's own and a row of a
process that died would hold a database-wide count until it went stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from callpath.planner import run
from callpath.planner.run import Params, PlanError
from callpath.storage import plan_repo, site_repo
from callpath.storage.db import transaction

log = logging.getLogger(__name__)
BEAT_SECONDS = 10.0
MAX_RUNNING = 2
Clock = Callable[[], float]


class Busy(Exception):
    """This process computes as many plans as it may; the message says so."""


class Slots:
    """How many plans this process computes now, at most `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.taken >= self.limit:
                return False
            self.taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.taken -= 1


SLOTS = Slots(MAX_RUNNING)


def launch(
    engine: Engine, account_id: int, site_id: int, params: Params, slots: Slots = SLOTS
) -> int | None:
    """Starts a plan in a background thread; None while another plan runs for the site,
    Busy while the process computes `slots.limit` plans already (no row is stored then).
    The caller has checked that the site is the account's."""
    if not slots.take():
        raise Busy(
            f"{slots.limit} pool plans are being computed on this server already; "
            "start this one when one of them has finished"
        )
    started = False
    try:
        with transaction(engine) as conn:
            plan_id = plan_repo.start(conn, account_id, site_id, params.as_json(), time.time())
        if plan_id is not None:
            threading.Thread(
                target=_compute_in_slot,
                args=(slots, engine, account_id, site_id, plan_id, params),
                name=f"callpath-plan-{plan_id}",
                daemon=True,
            ).start()
            started = True
    finally:
        if not started:  # the thread gives the slot back when it ends
            slots.give_back()
    return plan_id


def _compute_in_slot(slots: Slots, *args: Any) -> None:
    try:
        compute(*args)
    finally:
        slots.give_back()


class Heartbeat:
    """The replays' progress callback: touches the plan's row every `BEAT_SECONDS`."""

    def __init__(self, engine: Engine, account_id: int, plan_id: int, clock: Clock) -> None:
        self.engine, self.account_id, self.plan_id, self.clock = engine, account_id, plan_id, clock
        self.last = clock()

    def __call__(self, _size: int = 0, _done: int = 0, _total: int = 0) -> None:
        now = self.clock()
        if now - self.last < BEAT_SECONDS:
            return
        self.last = now
        with transaction(self.engine) as conn:
            plan_repo.beat(conn, self.account_id, self.plan_id, now)


def compute(
    engine: Engine,
    account_id: int,
    site_id: int,
    plan_id: int,
    params: Params,
    clock: Clock = time.time,
) -> None:
    """Runs a plan and stores its result (or why it failed)."""
    beat = Heartbeat(engine, account_id, plan_id, clock)
    try:
        with transaction(engine, write=False) as conn:
            site = site_repo.load_site_config(conn, site_id=site_id)
            row = site_repo.site_row(conn, site_id=site_id)
        if site is None or row is None or site.account_id != account_id:
            raise PlanError("the site is gone")
        data = run.recorded_input(engine, site, params, clock())
        beat()
        result = run.compute(data, site, int(row["match_window"]), params, progress=beat)
    except Exception as exc:
        if not isinstance(exc, PlanError):
            log.exception("pool plan %s failed", plan_id)
        with transaction(engine) as conn:
            plan_repo.fail(conn, account_id, plan_id, str(exc) or type(exc).__name__, clock())
        return
    with transaction(engine) as conn:
        plan_repo.finish(conn, account_id, plan_id, result, clock())
