"""Confirming how Zadarma calls went by the PBX call statistics, after the answer.

An END's `disposition` and `duration` are not signed. When the integration's secret is
`KEY:SECRET` (the API key as well as the secret), a background thread of the web process
asks `GET /v1/statistics/pbx/` for the period of the calls that ended without a
confirmation and stores each call's line as a `statistics` event; `screen` then folds
that outcome in place of the END's. Nothing here runs inside a webhook: the hook only
wakes the thread (`Confirmer.wake`) after it answered.

The statistics methods allow 3 requests a minute per account, so one request covers all
the integration's waiting calls, at most every `every` seconds (60: a third of the
allowance, the rest left to the account's own tools), and a 429 waits the longer of its
`Retry-After` and four intervals. The processes of one server share that pace through a
lock file in the spool folder. A call missing from a complete answer `NOT_FOUND_AFTER`
its end is stored as not found (it stays unconfirmed: the END's values, as sent); calls
started more than `LOOK_BACK` ago are no longer asked about.
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection, Engine

from callpath.services import calls as calls_service
from callpath.services.calls import Clock, Received
from callpath.storage import call_repo
from callpath.storage.db import transaction
from callpath.telephony.base import BadEvent
from callpath.telephony.zadarma import adapter, api, freshness

log = logging.getLogger("callpath.zadarma")

LOOK_BACK = 6 * 3600
NOT_FOUND_AFTER = 15 * 60
MARGIN = 60  # seconds either side of the waiting calls' starts
BATCH = 200
AFTER_WAKE = 2.0  # the END just stored is folded right after the answer; then ask


@dataclass(frozen=True, slots=True)
class Waiting:
    call_key: str
    pbx_call_id: str
    call_start: float  # the START's `call_start`, wall clock read as UTC
    ended_at: float


@dataclass(frozen=True, slots=True)
class Source:
    id: str
    account_id: int
    account: api.Account


def sources(conn: Connection, base_url: str) -> list[Source]:
    """The active Zadarma integrations that hold an API key."""
    found = []
    for row in call_repo.integrations_of_kind(conn, "zadarma"):
        key, secret = adapter.credentials(row["secret"])
        if key:
            found.append(Source(row["id"], row["account_id"], api.Account(base_url, key, secret)))
    return found


def waiting(conn: Connection, source: Source, now: float) -> list[Waiting]:
    """The integration's ended calls of the last `LOOK_BACK` with no statistics event."""
    rows = call_repo.ended_unconfirmed(
        conn, source.account_id, source.id, now - LOOK_BACK, adapter.STATISTICS, BATCH
    )
    found = []
    for row in rows:
        start = _call_start(conn, row["id"])
        if start is not None:
            found.append(Waiting(row["id"], row["provider_call_id"], start, row["ended_at"] or now))
    return found


def _call_start(conn: Connection, call_key: str) -> float | None:
    for row in call_repo.events_of(conn, call_key):
        stored = adapter.stored_fields(str(row["body"]).encode("utf-8"))
        if stored and stored[0].get("event") in adapter.STARTS:
            try:
                return freshness.wall_clock(stored[0].get("call_start", ""))
            except BadEvent:
                return None
    return None


def outcome(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One call's outcome from its lines (a call rung to several extensions has several):
    answered if any line was, with the longest answered time; else the last line's."""
    answered = [ln for ln in lines if str(ln.get("disposition", "")).lower() == "answered"]
    chosen = max(answered, key=_seconds) if answered else lines[-1]
    return {
        "pbx_call_id": str(chosen.get("pbx_call_id")),
        "disposition": str(chosen.get("disposition", "")),
        "seconds": _seconds(chosen),
        "lines": len(lines),
    }


def _seconds(line: dict[str, Any]) -> int:
    value = line.get("seconds")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return 0
    try:
        return max(0, int(float(value)))
    except ValueError:
        return 0


def confirm(
    engine: Engine, client: httpx.Client, source: Source, now: float
) -> tuple[list[str], int]:
    """Ask once for the period of the source's waiting calls and store what it says: the
    call keys given a statistics event, and how many calls were waiting."""
    with transaction(engine, write=False) as conn:
        calls_waiting = waiting(conn, source, now)
    if not calls_waiting:
        return [], 0
    starts = [w.call_start for w in calls_waiting]
    lines = api.pbx_statistics(
        client,
        source.account,
        freshness.wall_text(min(starts) - MARGIN),
        freshness.wall_text(max(starts) + MARGIN),
    )
    by_call: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_call.setdefault(str(line.get("pbx_call_id", "")), []).append(line)
    complete = len(lines) < api.MAX_LINES
    stored = []
    for w in calls_waiting:
        found = by_call.get(w.pbx_call_id)
        if found:
            line = outcome(found)
        elif complete and w.ended_at <= now - NOT_FOUND_AFTER:
            line = {"pbx_call_id": w.pbx_call_id, "found": False}
            log.warning("call %s is not in Zadarma's statistics: left unconfirmed", w.call_key)
        else:
            continue
        if _store(engine, source, w, line, now):
            stored.append(w.call_key)
    return stored, len(calls_waiting)


def _store(engine: Engine, source: Source, w: Waiting, line: dict[str, Any], now: float) -> bool:
    item = Received(
        integration_id=source.id,
        account_id=source.account_id,
        dedup_key=adapter.statistics_key(w.pbx_call_id),
        call_key=w.call_key,
        kind=adapter.STATISTICS,
        received_at=now,
        body=adapter.statistics_body(line, now).decode("utf-8"),
        response={},
    )
    with transaction(engine) as conn:
        return calls_service.store(conn, item)[1]


class Confirmer:
    """The background thread of one web process: woken after an END was stored, it runs
    rounds while calls wait for confirmation, then ends (the next END starts it again)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        fold: Callable[[str], None],
        base_url: str,
        pace_file: Path | None,
        every: float = 60.0,
    ) -> None:
        self.engine, self.clock, self.fold = engine, clock, fold
        self.base_url, self.pace_file, self.every = base_url, pace_file, every
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._local_pace: dict[str, float] = {}

    def wake(self) -> None:
        """Start (or nudge) the thread; returns at once."""
        self._wake.set()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="zadarma-confirm", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        idle = 0
        while idle < 3:
            woke = self._wake.wait(timeout=self.every)
            self._wake.clear()
            if woke:
                time.sleep(AFTER_WAKE)
            try:
                left = self.run_once()
            except Exception:  # a bug or a broken database must not kill the thread silently
                log.exception("confirming Zadarma calls failed")
                left = 1
            idle = 0 if left or woke else idle + 1

    def run_once(self) -> int:
        """One round over the integrations whose pace allows a request: the number of
        calls still waiting (or integrations not due yet)."""
        now = self.clock()
        with transaction(self.engine, write=False) as conn:
            found = sources(conn, self.base_url)
        left = 0
        with self._pace() as pace, httpx.Client(follow_redirects=False) as client:
            if pace is None:
                return 1  # another process of this server is asking now
            for source in found:
                if pace.get(source.id, 0.0) > now:
                    left += 1
                    continue
                left += self._confirm_one(client, source, now, pace)
        return left

    def _confirm_one(
        self, client: httpx.Client, source: Source, now: float, pace: dict[str, float]
    ) -> int:
        try:
            stored, count = confirm(self.engine, client, source, now)
        except api.ApiError as exc:
            wait = max(exc.retry_after or 0.0, self.every * 4)
            log.warning("Zadarma statistics for %s: %s; next try in %.0f s", source.id, exc, wait)
            pace[source.id] = now + wait
            return 1
        if count:
            pace[source.id] = now + self.every
        for key in stored:
            self.fold(key)
        return count - len(stored)

    @contextmanager
    def _pace(self) -> Iterator[dict[str, float] | None]:
        """When each integration may be asked again, shared by this server's processes
        (a lock file; None: another process holds it, so this one skips the round)."""
        if self.pace_file is None:
            yield self._local_pace
            return
        self.pace_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.pace_file, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            handle.seek(0)
            pace = _read_pace(handle.read())
            yield pace
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(pace))


def _read_pace(text: str) -> dict[str, float]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, (int, float))}
