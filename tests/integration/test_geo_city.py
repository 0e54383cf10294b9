"""Region and city from a MaxMind-format city database (`CALLPATH_GEOIP_CITY_DB`), in
`callpath serve` as users run it: stored with each new session and shown by the API. The
visitor's address comes through a trusted proxy (X-Forwarded-For from loopback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.storage.tables import sessions
from callpath.web.app import create_app
from tests.helpers import (
    LONDON,
    LONDON_IP,
    LONDON_NET,
    Seeded,
    ServerProcess,
    add_hook,
    api_headers,
    free_port,
    iso,
    seed_site,
    wait_for,
    write_city_db,
)

BEHIND_PROXY = {"CALLPATH_TRUSTED_PROXIES": "127.0.0.1/32"}
MOSCOW = "95.31.0.7"  # RU in the country table geoip2fast ships; not in the test's file


@pytest.fixture
def city_db(tmp_path: Path) -> Path:
    return write_city_db(tmp_path / "city.mmdb", {LONDON_NET: LONDON})


def _start(client: Any, site: Seeded, ip: str) -> dict[str, Any]:
    r = client.post(
        "/t/v1/session",
        content=json.dumps({"site": site.key, "url": "https://shop.example/"}),
        headers={"Content-Type": "text/plain", "X-Forwarded-For": ip},
    )
    assert r.status_code == 200, r.text
    started: dict[str, Any] = r.json()
    return started


def _place(engine: Engine, session_id: str) -> tuple[str | None, ...]:
    s = sessions.c
    with engine.connect() as conn:
        row = conn.execute(select(s.country, s.region, s.city).where(s.id == session_id)).one()
    return tuple(row)


def _api_place(item: dict[str, Any]) -> tuple[str | None, ...]:
    return item["country"], item["region"], item["city"]


def _session_item(client: Any, headers: dict[str, str], session_id: str) -> dict[str, Any]:
    r = client.get("/api/v1/sessions", headers=headers)
    assert r.status_code == 200, r.text
    item: dict[str, Any] = next(i for i in r.json()["items"] if i["id"] == session_id)
    return item


def test_serve_with_a_city_database_stores_and_shows_country_region_and_city(
    engine: Engine, database_url: str, tmp_path: Path, city_db: Path
) -> None:
    site = seed_site(engine, pool_size=2)
    hook = add_hook(engine, site)
    headers = api_headers(engine, site)
    env = {**BEHIND_PROXY, "CALLPATH_GEOIP_CITY_DB": str(city_db)}
    with (
        ServerProcess(database_url, free_port(), tmp_path / "server.log", env=env) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        london = _start(client, site, LONDON_IP)
        elsewhere = _start(client, site, MOSCOW)
        garbage = _start(client, site, "not-an-address")  # the peer's (loopback) instead
        assert _place(engine, london["session"]) == ("GB", "England", "London")
        assert _place(engine, elsewhere["session"]) == (None, None, None)
        assert _place(engine, garbage["session"]) == (None, None, None)
        assert _api_place(_session_item(client, headers, london["session"])) == (
            "GB",
            "England",
            "London",
        )

        # A call to the number the London visit was shown: matched to it, with its place.
        base = {"call_id": "geo-1", "caller": "+79161234567", "called": london["number"]}
        now = time.time()
        for event in (
            {**base, "event": "started", "at": iso(now)},
            {**base, "event": "ended", "at": iso(now + 30), "talk": 20, "status": "answered"},
        ):
            assert hook.post(client, event).status_code == 200

        def matched() -> dict[str, Any] | None:
            items = client.get("/api/v1/calls", headers=headers).json()["items"]
            done = [i for i in items if i["state"] == "ended" and i["session_id"]]
            return done[0] if done else None

        call = wait_for(matched)
        assert call["session_id"] == london["session"]
        assert _api_place(call) == ("GB", "England", "London")
        one = client.get(f"/api/v1/calls/{call['id']}", headers=headers).json()
        assert _api_place(one) == ("GB", "England", "London")
        csv = client.get("/api/v1/calls.csv", headers=headers).text.splitlines()
        assert "country,region,city" in csv[0]
        assert ",GB,England,London," in csv[1]


def test_without_a_city_database_visits_get_their_country_only_as_before(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=2)
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path),
        "CALLPATH_SITE_CACHE_SECONDS": "0",
        **BEHIND_PROXY,
    }
    client = TestClient(create_app(settings_mod.load(env)), client=("127.0.0.1", 50000))
    moscow = _start(client, site, MOSCOW)
    london = _start(client, site, LONDON_IP)
    assert _place(engine, moscow["session"]) == ("RU", None, None)
    assert _place(engine, london["session"]) == ("GB", None, None)
    item = _session_item(client, api_headers(engine, site), moscow["session"])
    assert _api_place(item) == ("RU", None, None)


def test_an_unreadable_city_database_stops_the_app_before_any_request(
    database_url: str, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"GeoLite2-City, honestly\n" * 100)
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_GEOIP_CITY_DB": str(junk)}
    with pytest.raises(settings_mod.SettingsError, match="CALLPATH_GEOIP_CITY_DB"):
        create_app(settings_mod.load(env))


@pytest.mark.parametrize("content", [None, b"\x00" * 1000], ids=["missing", "not-a-database"])
def test_serve_refuses_to_start_with_a_city_database_it_cannot_read(
    database_url: str, tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "city.mmdb"
    if content is not None:
        path.write_bytes(content)
    env = {
        **os.environ,
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
        "CALLPATH_GEOIP_CITY_DB": str(path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "callpath", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "CALLPATH_GEOIP_CITY_DB" in done.stderr
    assert "Traceback" not in done.stderr
