"""The delivery process: sends the outbox's due deliveries, logs every attempt, retries.

`callpath serve` starts it beside the web processes (as the apply process), so nothing
here runs where routing or the tracker answer; `callpath outbox run` runs it in the
foreground instead. Each round takes the due deliveries (held by a lease, so two
delivery processes never send the same one), groups them by destination and sends each
destination's in order, a few destinations at a time. A destination whose attempt fails
gets nothing more this round: its other due deliveries wait for that delivery's retry
time, so a receiver that is down is knocked on once per retry, not once per event.
Before a round, at most once a minute, it queues the notification digests that are due
(`integrations.notify.digest`). It ignores SIGINT and SIGTERM and stops when its
standard input closes.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from callpath import settings as settings_mod
from callpath.integrations.http import Client, Outcome
from callpath.integrations.notify import digest
from callpath.integrations.notify.sender import Channels
from callpath.integrations.senders import SENDERS
from callpath.integrations.sending import Context
from callpath.services import deliveries
from callpath.services.deliveries import Attempt, Links
from callpath.services.notify import Reads
from callpath.storage.db import make_engine
from callpath.workers.applier import NICENESS, stop_at_eof

log = logging.getLogger("callpath.delivery")
Clock = Callable[[], float]
Row = dict[str, Any]
DIGEST_EVERY = 60.0  # seconds between looks for digests due


class Deliverer:
    """Rounds of due deliveries until stopped; `threads` destinations at a time."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        client: Client,
        first_retry: float = 30.0,
        threads: int = 4,
        batch: int = 100,
        idle_wait: float = 0.5,
        settings: settings_mod.Settings | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.client = client
        settings = settings or settings_mod.load()
        channels = Channels(settings.smtp, settings.telegram_api, Reads(engine))
        self.context = Context(client, Links(engine), channels)
        self._next_digests = 0.0
        self.first_retry = first_retry
        self.batch = batch
        self.idle_wait = idle_wait
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="callpath-deliver")

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                done = self.round()
            except DBAPIError:
                log.warning("database error; deliveries wait for the next round")
                done = 0
            stop.wait(0.01 if done else self.idle_wait)
        self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def round(self) -> int:
        """One round (digests due queued first, once a minute); how many deliveries were
        tried."""
        self._digests()
        rows = deliveries.take_due(self.engine, self.clock(), self.batch)
        by_destination: dict[int, list[Row]] = {}
        for row in rows:
            by_destination.setdefault(int(row["destination_id"]), []).append(row)
        tried = list(self._pool.map(self._destination, by_destination.values()))
        return sum(tried)

    def _digests(self) -> None:
        now = self.clock()
        if now < self._next_digests:
            return
        self._next_digests = now + DIGEST_EVERY
        try:
            digest.queue_due(self.engine, now)
        except DBAPIError:
            log.warning("database error queueing digests; tried again in a minute")
        except Exception:  # digests must never stop the deliveries
            log.exception("queueing digests failed; tried again in a minute")

    def _destination(self, rows: list[Row]) -> int:
        """Its deliveries in order until one fails; the rest wait for that one's retry. A
        deferred one (quiet hours, a check that must wait) holds up nothing."""
        for index, row in enumerate(rows):
            try:
                state = self._one(row)
            except DBAPIError:
                log.warning("database error recording delivery %s", row["id"])
                return index
            except Exception:  # a bug with one destination must not stop the others
                log.exception("delivery %s failed", row["id"])
                return index
            if state in ("delivered", "deferred"):  # deferred: waits, holds up nothing
                continue
            rest = rows[index + 1 :]
            if rest:
                deliveries.put_back(self.engine, rest, self.clock() + self.first_retry)
            return index + 1
        return len(rows)

    def _one(self, row: Row) -> str:
        sender = SENDERS.get(str(row["kind"]))
        if sender is None:
            outcome = Outcome(None, 0, f"no sender for destinations of kind {row['kind']!r}")
        else:
            outcome = sender(self.context, row, row, self.clock())
        if outcome.defer_until is not None:
            deliveries.defer(self.engine, row, outcome.defer_until, outcome.excerpt)
            return "deferred"
        attempt = Attempt(
            outcome.status, outcome.latency_ms, outcome.excerpt, outcome.retry_after, outcome.final
        )
        return deliveries.record(self.engine, row, attempt, self.clock(), self.first_retry)


def main() -> int:
    """`python -m callpath.workers.delivery`: started by `callpath serve`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the serve process decides when (stdin EOF)
    settings = settings_mod.load()
    if not settings.database_url.startswith("sqlite"):
        # As the apply process: sending yields the cores to the routing answers. Not on
        # SQLite, where a starved process holding the one write lock would hold them up.
        os.nice(NICENESS)
    engine = make_engine(settings.database_url, pool_size=4, max_overflow=4)
    stop = threading.Event()
    reader = threading.Thread(target=stop_at_eof, args=(sys.stdin.buffer, stop), daemon=True)
    reader.start()
    client = Client()
    try:
        Deliverer(engine, time.time, client, settings.outbox_first_retry, settings=settings).run(
            stop
        )
    finally:
        client.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
