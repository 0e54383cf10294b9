"""A visit tagged with a disguised "cpc" (a zero-width space inside, a right-to-left
override in front of the source) is stored plain, so the journal's and the API's channel
filters find its call and the visit itself."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.services import calls
from callpath.storage.tables import sessions
from callpath.web.app import create_app
from tests.helpers import add_hook, add_login, api_headers, iso, log_in, seed_site

DISGUISED = "https://shop.example/?utm_medium=c%E2%80%8Bpc&utm_source=%E2%80%AEyandex"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.fixture
def client(engine: Engine, database_url: str, tmp_path: Path) -> TestClient:
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path),
        "CALLPATH_SITE_CACHE_SECONDS": "0",
    }
    return TestClient(create_app(settings_mod.load(env)), raise_server_exceptions=False)


def _visit(client: TestClient, site_key: str, url: str) -> dict[str, Any]:
    body = json.dumps({"site": site_key, "url": url})
    r = client.post(
        "/t/v1/session", content=body, headers={"Content-Type": "text/plain", "User-Agent": CHROME}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_disguised_cpc_visit_and_its_call_are_found_by_the_cpc_filter(
    client: TestClient, engine: Engine
) -> None:
    site = seed_site(engine, pool_size=2)
    visit = _visit(client, site.key, DISGUISED)
    with engine.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == visit["session"])).one()
    assert (row.source, row.medium) == ("yandex", "cpc")
    assert row.utm == {"source": "yandex", "medium": "cpc"}

    hook, now = add_hook(engine, site), time.time()
    base = {"call_id": "pbx-1", "caller": "+79161234567", "called": visit["number"]}
    started = hook.post(client, {**base, "event": "started", "at": iso(now)})
    assert started.status_code == 200, started.text
    hook.post(client, {**base, "event": "ended", "at": iso(now + 40), "talk": 30})
    call = str(started.json()["call"])
    assert calls.apply(engine, call, time.time)

    headers = api_headers(engine, site)
    for channel in ("cpc", "yandex", "yandex/cpc", "Yandex / CPC"):
        found = client.get("/api/v1/calls", params={"channel": channel}, headers=headers)
        assert [c["id"] for c in found.json()["items"]] == [call], channel
        visits = client.get("/api/v1/sessions", params={"channel": channel}, headers=headers)
        assert [s["id"] for s in visits.json()["items"]] == [visit["session"]], channel

    log_in(client, add_login(engine, site, "owner"))
    journal = client.get("/app/calls", params={"channel": "cpc"})
    assert journal.status_code == 200
    assert f'href="/app/calls/{call}"' in journal.text
