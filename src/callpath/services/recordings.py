"""Recordings: find calls with a recording, download them (when a folder is configured),
delete files past retention. One background worker per app process runs `RecordingWorker.
run`; rows are claimed with a lease, so several processes can share the work.

Files live at `DIR/<account>/<yyyy>/<mm>/<call_id>.<ext>`, mode 0600, written to a temp
file in the same folder and renamed into place (a reader never sees half a file).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from callpath.services import recording_fetch as fetch
from callpath.settings import Settings
from callpath.storage import recording_repo as repo
from callpath.storage.db import transaction

log = logging.getLogger(__name__)
Clock = Callable[[], float]
MAX_ATTEMPTS = 8
FIRST_RETRY = 60.0  # seconds; doubles per attempt, at most MAX_BACKOFF
MAX_BACKOFF = 6 * 3600.0
LEASE = 600.0
DISCOVERY_MARGIN = 300.0  # app servers' clocks may differ; re-read this much of the past
DAY = 86_400.0


@dataclass
class Config:
    folder: Path
    retention_days: int = 90
    max_bytes: int = 200 * 1024 * 1024
    allow_private: bool = False


@dataclass
class Outcome:
    stored: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> float:
    """Delay before the next try after `attempts` failed ones (1, 2, …)."""
    return float(min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_BACKOFF))


def config_of(settings: Settings) -> Config | None:
    """None when downloads are off (no folder configured)."""
    if settings.recordings_dir is None:
        return None
    return Config(
        settings.recordings_dir,
        settings.recordings_retention_days,
        settings.recordings_max_mb * 1024 * 1024,
        settings.recordings_allow_private,
    )


def discover(engine: Engine, since: float, now: float, limit: int = 500) -> float:
    """Rows for calls whose recording is new; returns the next `since`."""
    with transaction(engine, write=False) as conn:
        found = repo.new_references(conn, since, limit)
    if not found:
        return since
    with transaction(engine) as conn:
        for ref in found:
            url = ref["recording_url"]
            state = "pending" if fetch.downloadable(ref["kind"], url) else "reference"
            repo.add(conn, ref["call_id"], ref["account_id"], url, state, now)
    # Rows already added drop out of the next read, so re-reading a margin is cheap.
    return max(since, float(found[-1]["updated_at"]) - DISCOVERY_MARGIN)


def fetch_due(
    engine: Engine, config: Config, client: httpx.Client, clock: Clock, limit: int = 10
) -> Outcome:
    """Download the recordings whose attempt is due; every failure is recorded."""
    with transaction(engine) as conn:
        claimed = repo.claim_due(conn, clock(), LEASE, limit)
    outcome = Outcome()
    for row in claimed:
        _fetch_one(engine, config, client, clock, row, outcome)
    return outcome


def _fetch_one(
    engine: Engine,
    config: Config,
    client: httpx.Client,
    clock: Clock,
    row: dict[str, Any],
    outcome: Outcome,
) -> None:
    try:
        relative, got = _download(config, client, row, clock())
    except (fetch.FetchError, httpx.HTTPError, OSError) as exc:
        message = str(exc) or type(exc).__name__
        attempts = row["attempts"] + 1
        permanent = getattr(exc, "permanent", False) or attempts >= MAX_ATTEMPTS
        retry_at = None if permanent else clock() + backoff(attempts)
        with transaction(engine) as conn:
            repo.mark_failed(conn, row["call_id"], message, retry_at)
        outcome.failed += 1
        outcome.errors.append(f"{row['call_id']}: {message}")
        return
    with transaction(engine) as conn:
        repo.mark_stored(conn, row["call_id"], relative, got.content_type, got.size, clock())
    outcome.stored += 1


def _download(
    config: Config, client: httpx.Client, row: dict[str, Any], now: float
) -> tuple[str, fetch.Fetched]:
    source = fetch.source_for(row["kind"], row["source_url"], row["secret"])
    month = datetime.fromtimestamp(now, UTC).strftime("%Y/%m")
    folder = config.folder / str(row["account_id"]) / month
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp = tempfile.mkstemp(dir=folder, prefix=".part-")  # mode 0600
    try:
        with os.fdopen(handle, "wb") as out:
            got = fetch.download(client, source, out, config.max_bytes, config.allow_private)
            out.flush()
            os.fsync(out.fileno())
        name = f"{row['call_id']}.{fetch.extension(got.content_type, source.url)}"
        os.replace(temp, folder / name)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return f"{row['account_id']}/{month}/{name}", got


def prune(engine: Engine, config: Config, now: float, limit: int = 500) -> int:
    """Delete files older than the retention (0 keeps them forever); rows become
    `pruned`. Returns how many."""
    if config.retention_days == 0:
        return 0
    with transaction(engine, write=False) as conn:
        old = repo.expired(conn, now - config.retention_days * DAY, limit)
    for row in old:
        stored = resolve(config.folder, row["path"])
        if stored is not None:
            stored.unlink(missing_ok=True)
        with transaction(engine) as conn:
            repo.mark_pruned(conn, row["call_id"])
    return len(old)


def resolve(folder: Path, relative: str | None) -> Path | None:
    """The stored file's full path, None if the row has none or it points outside."""
    if not relative:
        return None
    root = folder.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) else None


def client() -> httpx.Client:
    return httpx.Client(timeout=fetch.TIMEOUT, follow_redirects=False)


class RecordingWorker:
    """The background loop of one app process: discover, fetch, prune; never raises."""

    def __init__(
        self, engine: Engine, config: Config, clock: Clock, http: httpx.Client | None = None
    ) -> None:
        self.engine, self.config, self.clock = engine, config, clock
        self.http = http or client()
        self.since = 0.0
        self._next_prune = 0.0

    def step(self) -> Outcome:
        now = self.clock()
        self.since = discover(self.engine, self.since, now)
        outcome = fetch_due(self.engine, self.config, self.http, self.clock)
        if now >= self._next_prune:
            prune(self.engine, self.config, now)
            self._next_prune = now + 3600.0
        return outcome

    def run(self, stop: threading.Event, interval: float = 5.0) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # a database or disk hiccup: log, wait, try again
                log.exception("recordings worker step failed")
            stop.wait(interval)
        self.http.close()
