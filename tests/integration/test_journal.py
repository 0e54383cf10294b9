"""The calls journal: filters, paging, the site's timezone, escaping, the CSV export."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.services import accounts
from callpath.storage.db import transaction
from callpath.web.app import create_app
from tests.helpers import Hook, Seeded, add_hook, iso, seed_site

PASSWORD = "correct horse battery"
MOSCOW = ZoneInfo("Europe/Moscow")


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path)}
    return create_app(settings_mod.load(env))


@pytest.fixture
def site(engine: Engine) -> Seeded:
    seeded = seed_site(engine, pool_size=1, statics=("Billboard", "=HYPERLINK(1)"))
    with transaction(engine) as conn:
        accounts.create_user(
            conn, seeded.account_id, "me@shop.example", PASSWORD, "owner", time.time()
        )
    return seeded


@pytest.fixture
def client(app, site: Seeded) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        "/app/login",
        data={"email": "me@shop.example", "password": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    return client


def _call(client: TestClient, hook: Hook, n: int, to: str, at: float, missed: bool = False) -> str:
    base = {"call_id": f"j{n}", "caller": f"+7916000{n:04d}", "called": to}
    reply = hook.post(client, {**base, "event": "started", "at": iso(at)})
    ended = {**base, "event": "ended", "at": iso(at + 30)}
    hook.post(client, ended if missed else {**ended, "talk": 20})
    call: str = reply.json()["call"]
    return call


def _rows(page: str) -> int:
    return page.count('<tr class="call"')


def test_filters_by_channel_status_number_and_date(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    hook = add_hook(engine, site)
    day = datetime(2026, 3, 10, 0, 30, tzinfo=MOSCOW).timestamp()  # 21:30 UTC the day before
    billboard = _call(client, hook, 1, site.static["Billboard"], day)
    missed = _call(client, hook, 2, site.default or "", day + 86_400, missed=True)
    page = client.get("/app/calls").text
    assert _rows(page) == 2
    totals = page.split('<p id="totals">', 1)[1].split("</p>", 1)[0]
    assert totals.startswith("<strong>2</strong> calls:") and "1 answered, 1 missed" in totals
    missed_only = client.get("/app/calls", params={"status": "missed"}).text
    assert '<p id="totals"><strong>1</strong> call:\n1 missed</p>' in missed_only
    only = client.get("/app/calls", params={"channel": "billboard/offline"}).text
    assert billboard in only and missed not in only
    other = client.get("/app/calls", params={"channel": "other"}).text
    assert missed in other and billboard not in other
    assert _rows(client.get("/app/calls", params={"status": "missed"}).text) == 1
    assert _rows(client.get("/app/calls", params={"number": site.static["Billboard"]}).text) == 1
    # dates are the site's (Moscow): the first call is on March 10 there, not March 9
    march10 = client.get("/app/calls", params={"from": "2026-03-10", "to": "2026-03-10"}).text
    assert billboard in march10 and missed not in march10
    assert "2026-03-10 00:30:00" in march10
    assert _rows(client.get("/app/calls", params={"from": "2026-03-11"}).text) == 1


def test_bad_filters_are_400_with_a_reason(client: TestClient) -> None:
    for params in [
        {"from": "March"},
        {"status": "great"},
        {"number": "12"},
        {"cursor": "!!!"},
        {"to": "2026-03-10T10:00:00"},
    ]:
        r = client.get("/app/calls", params=params)
        assert r.status_code == 400, params
        assert r.json()["error"]
    assert client.get("/api/v1/calls", params={"limit": 0}).status_code == 422


def test_paging_walks_every_call_once(client: TestClient, engine: Engine, site: Seeded) -> None:
    hook = add_hook(engine, site)
    start = time.time() - 10_000
    made = {_call(client, hook, n, site.static["Billboard"], start + n * 60) for n in range(120)}
    seen: list[str] = []
    cursor = None
    while True:
        r = client.get(
            "/api/v1/calls", params={"limit": 50, **({"cursor": cursor} if cursor else {})}
        )
        seen += [c["id"] for c in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 120 and set(seen) == made
    page = client.get("/app/calls").text
    assert _rows(page) == 50 and 'id="older"' in page
    assert '<p id="totals"><strong>120</strong> calls:' in page  # all of them, not the page
    assert len(list(csv.reader(io.StringIO(client.get("/app/calls.csv").text)))) == 121


def test_csv_neutralises_formulas_and_keeps_the_data(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    hook = add_hook(engine, site)
    _call(client, hook, 1, site.static["=HYPERLINK(1)"], time.time())
    r = client.get("/app/calls.csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["source"] == "'=HYPERLINK(1)"
    assert rows[0]["caller"] == "'+79160000001"
    assert rows[0]["match_method"] == "static"
    assert rows[0]["repeat"] == "first-time" and rows[0]["timezone"] == "Europe/Moscow"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[0]["started"])
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())


def test_hostile_visit_data_is_escaped_in_the_journal(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    evil = "<script>alert(1)</script>"
    visit = client.post(
        "/t/v1/session",
        content=json.dumps(
            {
                "site": site.key,
                "url": f"https://shop.example/?utm_source={evil}&utm_campaign={evil}",
                "referrer": 'https://x.example/"><img src=x onerror=alert(1)>',
            }
        ),
    ).json()
    hook = add_hook(engine, site)
    call = _call(client, hook, 1, visit["number"], time.time())
    for page in (client.get("/app/calls").text, client.get(f"/app/calls/{call}").text):
        assert "<script>alert(1)" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<img src=x" not in page
