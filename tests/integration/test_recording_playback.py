"""Playing a stored recording: the owner's account only, never cached, ranges served; the
call page and the API show the reference and whether a copy is stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.services import accounts, recordings
from callpath.storage.db import transaction
from callpath.web.app import create_app
from tests.helpers import Clock, Seeded, seed_site
from tests.recording_fakes import (
    AUTH_TOKEN,
    TWILIO_PATH,
    WAV,
    Served,
    add_call,
    recording_server,
)

PASSWORD = "correct horse battery"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path, folder: Path):  # type: ignore[no-untyped-def]
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
        "CALLPATH_RECORDINGS_DIR": str(folder),
        "CALLPATH_RECORDINGS_ALLOW_PRIVATE": "1",  # the fake provider is on loopback
    }
    return create_app(settings_mod.load(env))


def _site_with_user(engine: Engine, email: str) -> Seeded:
    seeded = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        accounts.create_user(conn, seeded.account_id, email, PASSWORD, "owner", time.time())
    return seeded


def _login(app, email: str) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post("/app/login", data={"email": email, "password": PASSWORD})
    assert r.status_code in (200, 303)
    return client


@pytest.fixture
def served() -> Iterator[Served]:
    with recording_server() as s:
        yield s


@pytest.fixture
def stored(engine: Engine, folder: Path, served: Served) -> tuple[Seeded, str, str]:
    """An account with a downloaded recording and one with only a Twilio reference."""
    site = _site_with_user(engine, "owner@shop.example")
    clock = Clock(time.time())
    call = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), clock())
    twilio = add_call(engine, site, "twilio", served.url(TWILIO_PATH), clock(), AUTH_TOKEN)
    config = recordings.Config(folder, allow_private=True)
    with httpx.Client(trust_env=False) as http:
        recordings.discover(engine, 0.0, clock())
        recordings.fetch_due(engine, config, http, clock)
    with transaction(engine) as conn:  # the Twilio one stays a reference: never fetched
        conn.exec_driver_sql(
            "UPDATE recordings SET state = 'failed', last_error = 'HTTP 401' "
            f"WHERE call_id = '{twilio}'"
        )
    return site, call, twilio


def test_owner_gets_the_bytes_with_ranges(app, stored: tuple[Seeded, str, str]) -> None:  # type: ignore[no-untyped-def]
    _, call, _ = stored
    client = _login(app, "owner@shop.example")
    r = client.get(f"/app/calls/{call}/recording")
    assert r.status_code == 200 and r.content == WAV
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["cache-control"] == "private, no-store"
    part = client.get(f"/app/calls/{call}/recording", headers={"Range": "bytes=4-9"})
    assert part.status_code == 206 and part.content == WAV[4:10]
    page = client.get(f"/app/calls/{call}").text
    assert f'<audio controls preload="none" src="/app/calls/{call}/recording">' in page
    api = client.get(f"/api/v1/calls/{call}").json()["recording"]
    assert api == {"reference": api["reference"], "stored": True, "bytes": len(WAV)}


def test_reference_only_call_shows_why_it_is_not_linked(
    app,
    stored: tuple[Seeded, str, str],  # type: ignore[no-untyped-def]
) -> None:
    _, _, twilio = stored
    client = _login(app, "owner@shop.example")
    assert client.get(f"/app/calls/{twilio}/recording").status_code == 404
    page = client.get(f"/app/calls/{twilio}").text
    assert "<audio" not in page and "needs your Twilio account" in page
    assert "Download failed: HTTP 401" in page
    listed = client.get("/api/v1/calls").json()["items"]
    mine = next(c for c in listed if c["id"] == twilio)
    assert mine["recording"]["stored"] is False and mine["recording"]["bytes"] is None


def test_a_pbx_file_reference_is_shown_escaped_not_linked(app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    """An Asterisk MixMonitor path stays on the PBX: the page shows it as text, escaped."""
    site = _site_with_user(engine, "owner@shop.example")
    reference = 'file:///var/spool/asterisk/monitor/a&b<i>"x.wav'  # not what we store; a worst case
    call = add_call(engine, site, "asterisk", reference, time.time())
    recordings.discover(engine, 0.0, time.time())
    client = _login(app, "owner@shop.example")
    assert client.get(f"/app/calls/{call}/recording").status_code == 404
    page = client.get(f"/app/calls/{call}").text
    shown = page[page.index('id="recording"') :]
    assert "<code>file:///var/spool/asterisk/monitor/a&amp;b&lt;i&gt;&#34;x.wav</code>" in shown
    assert "<i>" not in shown and 'href="file:' not in shown and "<audio" not in shown
    assert "not https; it is shown, not linked" in shown
    api = client.get(f"/api/v1/calls/{call}").json()["recording"]
    assert api == {"reference": reference, "stored": False, "bytes": None}


def test_other_account_and_anonymous_get_nothing(
    app,
    engine: Engine,
    stored: tuple[Seeded, str, str],  # type: ignore[no-untyped-def]
) -> None:
    _, call, _ = stored
    _site_with_user(engine, "rival@other.example")
    rival = _login(app, "rival@other.example")
    r = rival.get(f"/app/calls/{call}/recording")
    assert r.status_code == 404 and r.content != WAV
    anonymous = TestClient(app, raise_server_exceptions=False)
    r = anonymous.get(f"/app/calls/{call}/recording", follow_redirects=False)
    assert r.status_code in (303, 401) and r.content != WAV


@pytest.mark.parametrize(
    "bad", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "c" + "0" * 19 + "%2F", "C" + "0" * 20]
)
def test_path_tricks_in_the_id_get_404(app, stored: tuple[Seeded, str, str], bad: str) -> None:  # type: ignore[no-untyped-def]
    client = _login(app, "owner@shop.example")
    assert client.get(f"/app/calls/{bad}/recording").status_code == 404


def test_the_app_runs_the_worker(app, engine: Engine, served: Served, folder: Path) -> None:  # type: ignore[no-untyped-def]
    """With the folder set, the app's own background worker downloads new recordings."""
    site = _site_with_user(engine, "owner@shop.example")
    call = add_call(engine, site, "generic", served.url("/pbx/rec.wav"), time.time())
    with TestClient(app):  # runs the lifespan: the workers start, and stop on exit
        deadline = time.monotonic() + 120  # generously: a busy machine is slow
        while not list(folder.rglob(f"{call}.wav")) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert [p.read_bytes() for p in folder.rglob(f"{call}.wav")] == [WAV]
