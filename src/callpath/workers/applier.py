"""The apply process: folds and matches stored call events outside the web process.

A webhook's answer waits only for routing and storing the raw event; folding and
matching the call (`calls.apply`, several queries and the scoring) come after. Run by the
web process (inline on SQLite, a thread on PostgreSQL), that work shared the process's
core and its GIL with the routing answers: at 200 calls/s the process sat at 66-90% of a
core and the answers' p99 swung up to seconds (bench/webhook_load.py). So `callpath
serve` also starts one process that runs `Applier`, on both backends: it polls for
events not applied yet (one indexed query; more often while there is work) and applies
their calls, while the web processes only answer and store. On SQLite its reads take no
lock and each save is one short write (`calls.apply`), so the routing answers' writes
rarely meet it.

A web process folds calls itself only while no applier's heartbeat (a file in the spool
folder, touched every second) is fresh, so a missing, dead or stuck applier loses
nothing: the web process's call worker takes its leftovers over as before. The applier
ignores SIGINT and SIGTERM and stops when its standard input closes (the `serve`
process stops it after the web processes finished their last spool drain, or dies), so
its last pass comes after theirs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from callpath import settings as settings_mod
from callpath.services import calls, leads
from callpath.services.heartbeat import BEAT_EVERY, beat, heartbeat_path
from callpath.storage import call_repo
from callpath.storage.db import make_engine, transaction

log = logging.getLogger("callpath.applier")

Clock = Callable[[], float]
RETRY_FAILED = 5.0  # a call whose apply raised is tried again after this long
LEADS_BUSY_EVERY = 0.5  # seconds between lead batches while calls keep coming
EVERY_EVENT = 4_102_444_800.0  # "received before 2100": every pending event, whatever its clock
NICENESS = 10  # the OS scheduler serves the routing answers first when cores are short


class Applier:
    """Applies every call with events not applied yet, oldest first, in batches.

    Polls every `busy_wait` seconds while it finds work, backing off to `idle_wait` when
    there is none. A call whose apply raised is skipped for `RETRY_FAILED` seconds, so a
    call that cannot be applied (a bug, bad data) neither spins the loop nor holds up
    the others."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        heartbeat: Path | None,
        batch: int = 200,
        busy_wait: float = 0.05,
        idle_wait: float = 0.5,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.heartbeat = heartbeat
        self.batch = batch
        self.busy_wait = busy_wait
        self.idle_wait = idle_wait
        self._failed: dict[str, float] = {}  # call key -> monotonic time to retry at
        self._next_beat = 0.0
        self._next_leads = 0.0

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; then one last pass, so nothing stored before is left."""
        wait = self.busy_wait
        while not stop.is_set():
            self._beat()
            done = self.apply_due()
            if not done or time.monotonic() >= self._next_leads:
                self._classify_leads()
            wait = self.busy_wait if done else min(wait * 2, self.idle_wait)
            stop.wait(wait)
        self.finish()

    def _classify_leads(self) -> None:
        """Leads of the calls this round saved, in one transaction after their folding
        (analytics: never inside a call's save); a round with none due takes no write
        lock. While calls keep coming, at most every `LEADS_BUSY_EVERY` seconds: folding,
        which routing's neighbours wait for, goes first."""
        self._next_leads = time.monotonic() + LEADS_BUSY_EVERY
        try:
            leads.classify_due(self.engine, self.clock)
        except DBAPIError:
            log.warning("database error classifying leads; next round tries again")
        except Exception:  # a bug here must not stop the folding
            log.exception("classifying leads failed")

    def finish(self, seconds: float = 20.0) -> None:
        """Apply what is due until none is left (or `seconds` passed)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.apply_due():
                return

    def apply_due(self) -> int:
        """One batch: the calls with events not applied yet. Returns how many were tried
        (0 also when the database is away)."""
        try:
            with transaction(self.engine, write=False) as conn:
                keys = call_repo.pending_call_keys(conn, EVERY_EVENT, self.batch, self._skipped())
        except DBAPIError:
            return 0
        for key in keys:
            self._beat()  # per call: a long batch (a backlog, a busy machine) is no death
            if not self._apply(key):
                break
        return len(keys)

    def _apply(self, key: str) -> bool:
        """False when the database went away (the rest of the batch waits)."""
        try:
            calls.apply(self.engine, key, self.clock)
        except DBAPIError:
            log.warning("database error applying call %s; it stays pending", key)
            self._failed[key] = time.monotonic() + RETRY_FAILED
            return False
        except Exception:  # one bad call must not stop the others
            log.exception("applying call %s failed", key)
            self._failed[key] = time.monotonic() + RETRY_FAILED
        return True

    def _skipped(self) -> list[str]:
        now = time.monotonic()
        self._failed = {k: t for k, t in self._failed.items() if t > now}
        return list(self._failed)

    def _beat(self) -> None:
        now = time.monotonic()
        if self.heartbeat is None or now < self._next_beat:
            return
        try:
            beat(self.heartbeat)
        except OSError:
            log.exception("cannot write the applier heartbeat %s", self.heartbeat)
        self._next_beat = now + BEAT_EVERY


# ------------------------------------------------------------------ the process


class ApplierProcess:
    """The applier (or another worker module: the delivery process) as a child of
    `callpath serve`, restarted if it exits by itself."""

    def __init__(
        self, restart_after: float = 1.0, module: str = "callpath.workers.applier"
    ) -> None:
        self._restart_after = restart_after
        self._module = module
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="callpath-applier-watch", daemon=True
        )
        self._watcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Close its input (it makes a last pass and exits); kill it after `timeout`."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0f s; killing it", self._module, timeout)
            proc.kill()
            proc.wait()

    def _spawn(self) -> None:
        cmd = [sys.executable, "-m", self._module]
        with self._lock:
            if not self._stopping.is_set():
                self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)  # noqa: S603 (own argv)

    def _watch(self) -> None:
        while not self._stopping.is_set():
            proc = self._proc
            if proc is None:
                return
            code = proc.wait()
            if self._stopping.wait(self._restart_after):
                return
            log.warning("%s exited (%s); starting it again", self._module, code)
            self._spawn()


class _Terminated(Exception):
    """SIGTERM arrived (after uvicorn's graceful shutdown, which re-raises it)."""


def _terminated(_sig: int, _frame: FrameType | None) -> None:
    raise _Terminated


@contextmanager
def alongside(database_url: str, enabled: bool = True, deliver: bool = True) -> Iterator[None]:
    """Run the body (the web server) with an applier beside it (when `enabled`) and the
    delivery process (`workers.delivery`, when `deliver`), stopped after the body.

    uvicorn re-raises SIGTERM after its graceful shutdown, whose default action would
    end this process before the applier's last pass; here it ends the body instead, and
    the process still dies of SIGTERM once the children stopped."""
    children = [ApplierProcess()] if enabled else []
    if deliver:
        children.append(ApplierProcess(module="callpath.workers.delivery"))
    if not children:
        yield
        return
    for child in children:
        child.start()
    previous = signal.signal(signal.SIGTERM, _terminated)
    terminated = False
    try:
        yield
    except _Terminated:
        terminated = True
    finally:
        for child in children:
            child.stop()
        signal.signal(signal.SIGTERM, previous)
    if terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)


def stop_at_eof(stream: IO[bytes], stop: threading.Event) -> None:
    while stream.read(4096):
        pass
    stop.set()


def main() -> int:
    """`python -m callpath.workers.applier`: started by `callpath serve`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the serve process decides when (stdin EOF)
    settings = settings_mod.load()
    if not settings.database_url.startswith("sqlite"):
        # Analytics yield the cores to the routing answers when short. Not on SQLite:
        # each save holds the one write lock that routing needs, and an applier starved
        # of CPU while holding it would make every answer wait (priority inversion).
        os.nice(NICENESS)
    engine = make_engine(settings.database_url, pool_size=2, max_overflow=2)
    stop = threading.Event()
    reader = threading.Thread(target=stop_at_eof, args=(sys.stdin.buffer, stop), daemon=True)
    reader.start()
    try:
        Applier(engine, time.time, heartbeat_path(settings.spool_dir)).run(stop)
    finally:
        _forget_heartbeat(heartbeat_path(settings.spool_dir))
        engine.dispose()
    return 0


def _forget_heartbeat(path: Path) -> None:
    """On a clean exit the web processes take over at once, not after `ALIVE_WITHIN`."""
    with contextlib.suppress(OSError):
        os.utime(path, (0, 0))


if __name__ == "__main__":
    sys.exit(main())
