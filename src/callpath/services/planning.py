"""Pool plans computed in the background of a server process (the pool page and the API).

A plan replays thousands of sessions, so it runs in a thread of the process that was asked;
the request only stores a "running" row. While it runs the thread touches the row every
`BEAT_SECONDS`; a row not touched for `plan_repo.STALE_SECONDS` lost its process (a
restart, a crash) and reads as failed, and the site may start another plan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from callpath.planner import run
from callpath.planner.run import Params, PlanError
from callpath.storage import plan_repo, site_repo
from callpath.storage.db import transaction

log = logging.getLogger(__name__)
BEAT_SECONDS = 10.0
Clock = Callable[[], float]


def launch(engine: Engine, account_id: int, site_id: int, params: Params) -> int | None:
    """Starts a plan in a background thread; None while another plan runs for the site.
    The caller has checked that the site is the account's."""
    with transaction(engine) as conn:
        plan_id = plan_repo.start(conn, account_id, site_id, params.as_json(), time.time())
    if plan_id is not None:
        threading.Thread(
            target=compute,
            args=(engine, account_id, site_id, plan_id, params),
            name=f"callpath-plan-{plan_id}",
            daemon=True,
        ).start()
    return plan_id


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
