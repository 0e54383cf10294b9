"""Recording downloads against a real HTTP server on loopback: Twilio's media URL with basic
auth, a plain PBX URL, failures and retries, the size limit, address refusal, retention."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.services import recordings
from callpath.storage.db import transaction
from callpath.storage.tables import recordings as recordings_table
from tests.helpers import Clock, Seeded, seed_site
from tests.recording_fakes import (
    AUTH_TOKEN,
    MP3,
    TWILIO_PATH,
    WAV,
    Served,
    add_call,
    recording_server,
)


@pytest.fixture
def served() -> Iterator[Served]:
    with recording_server() as s:
        yield s


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


def _worker(
    engine: Engine, folder: Path, http: httpx.Client, clock: Clock, **kw: object
) -> recordings.RecordingWorker:
    config = recordings.Config(folder, allow_private=True)
    for name, value in kw.items():
        setattr(config, name, value)
    return recordings.RecordingWorker(engine, config, clock, http)


def _row(engine: Engine, call_id: str) -> dict[str, object]:
    with transaction(engine, write=False) as conn:
        query = select(recordings_table).where(recordings_table.c.call_id == call_id)
        return dict(conn.execute(query).one()._mapping)


def test_twilio_recording_is_fetched_with_basic_auth(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "twilio", served.url(TWILIO_PATH), clock(), AUTH_TOKEN)
    outcome = _worker(engine, tmp_path, http, clock).step()
    assert (outcome.stored, outcome.failed) == (1, 0)
    assert served.requests == [TWILIO_PATH + ".mp3"]
    row = _row(engine, call)
    assert row["state"] == "stored" and row["bytes"] == len(MP3)
    assert row["content_type"] == "audio/mpeg"
    assert row["path"] == f"{site.account_id}/2027/01/{call}.mp3"
    stored = tmp_path / str(row["path"])
    assert stored.read_bytes() == MP3
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temp file left


def test_auth_failure_is_recorded_and_retried_later(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    served.token = "a-rotated-token"
    call = add_call(engine, site, "twilio", served.url(TWILIO_PATH), clock(), AUTH_TOKEN)
    worker = _worker(engine, tmp_path, http, clock)
    assert worker.step().failed == 1
    row = _row(engine, call)
    assert row["state"] == "pending" and row["attempts"] == 1
    assert "HTTP 401" in str(row["last_error"])
    assert worker.step().failed == 0  # not due yet: back-off
    served.token = AUTH_TOKEN
    clock.advance(recordings.backoff(1))
    assert worker.step().stored == 1
    assert _row(engine, call)["state"] == "stored"


def test_gives_up_after_max_attempts(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "generic", served.url("/pbx/missing.mp3"), clock())
    worker = _worker(engine, tmp_path, http, clock)
    for attempt in range(1, recordings.MAX_ATTEMPTS + 1):
        assert worker.step().failed == 1
        clock.advance(recordings.backoff(attempt))
    row = _row(engine, call)
    assert row["state"] == "failed" and row["attempts"] == recordings.MAX_ATTEMPTS
    assert worker.step().failed == 0


def test_plain_url_and_redirect(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    plain = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), clock())
    moved = add_call(engine, site, "generic", served.url("/pbx/moved"), clock())
    assert _worker(engine, tmp_path, http, clock).step().stored == 2
    for call in (plain, moved):
        row = _row(engine, call)
        assert str(row["path"]).endswith(f"{call}.wav")
        assert (tmp_path / str(row["path"])).read_bytes() == WAV


def test_size_limit_stops_the_stream(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "generic", served.url("/pbx/big"), clock())
    outcome = _worker(engine, tmp_path, http, clock, max_bytes=1024 * 1024).step()
    assert outcome.failed == 1
    row = _row(engine, call)
    assert row["state"] == "failed" and "too large" in str(row["last_error"])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_private_addresses_are_refused_by_default(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), clock())
    other = add_call(engine, site, "generic", "http://localhost:9/x.wav", clock())
    worker = _worker(engine, tmp_path, http, clock, allow_private=False)
    assert worker.step().failed == 2
    assert served.requests == []
    for c in (call, other):
        row = _row(engine, c)
        assert row["state"] == "failed" and "refused" in str(row["last_error"])


def test_zadarma_references_are_kept_not_fetched(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "zadarma", "zadarma:1700000000.123", clock(), "zsecret123")
    assert _worker(engine, tmp_path, http, clock).step().failed == 0
    assert _row(engine, call)["state"] == "reference"


def test_asterisk_file_references_are_kept_not_fetched(
    engine: Engine, site: Seeded, http: httpx.Client, tmp_path: Path
) -> None:
    """A MixMonitor path on the PBX: nothing to download over http, nothing read locally."""
    clock = Clock()
    local = tmp_path / "monitor" / "in-74957770102-1767229800.801.wav"
    local.parent.mkdir()
    local.write_bytes(MP3)  # even when the path exists here, it is not copied
    call = add_call(engine, site, "asterisk", local.as_uri(), clock())
    folder = tmp_path / "recordings"
    outcome = _worker(engine, folder, http, clock).step()
    assert (outcome.stored, outcome.failed) == (0, 0)
    row = _row(engine, call)
    assert (row["state"], row["source_url"], row["path"]) == ("reference", local.as_uri(), None)
    assert not list(folder.rglob("*.*"))


def test_retention_deletes_old_files(
    engine: Engine, site: Seeded, served: Served, http: httpx.Client, tmp_path: Path
) -> None:
    clock = Clock()
    call = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), clock())
    worker = _worker(engine, tmp_path, http, clock, retention_days=2)
    worker.step()
    stored = tmp_path / str(_row(engine, call)["path"])
    config = worker.config
    assert recordings.prune(engine, config, clock() + 2 * recordings.DAY - 1) == 0
    assert stored.exists()
    assert recordings.prune(engine, config, clock() + 2 * recordings.DAY + 1) == 1
    assert not stored.exists()
    row = _row(engine, call)
    assert row["state"] == "pruned" and row["path"] is None
    forever = recordings.Config(tmp_path, retention_days=0)
    assert recordings.prune(engine, forever, clock() + 10_000 * recordings.DAY) == 0
