"""Visit codes end to end over HTTP: an exhausted pool answers the default number with a code,
a call on the default number is attributed when the code is entered through the API or the
call's page, and the attribution survives re-processing; hostile input, other accounts."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, update

from callpath import settings as settings_mod
from callpath.domain import visit_code
from callpath.services import accounts, auth, calls, tracking
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import call_events, sessions
from callpath.web.app import create_app
from tests.helpers import Clock, Hook, Seeded, iso, seed_site

PASSWORD = "correct horse battery"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CPC = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring"


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SPOOL_DIR": str(tmp_path),
        "CALLPATH_SITE_CACHE_SECONDS": "0",
    }
    return create_app(settings_mod.load(env))


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1)


def _user(engine: Engine, site: Seeded, email: str, role: str) -> str:
    """A user of the site's account and an API token of theirs."""
    now = time.time()
    with transaction(engine) as conn:
        user_id = accounts.create_user(conn, site.account_id, email, PASSWORD, role, now)
        who = auth.Principal(user_id, site.account_id, email, role)
        return auth.create_token(conn, who, "CRM", now)


@pytest.fixture
def token(engine: Engine, site: Seeded) -> str:
    return _user(engine, site, "crm@shop.example", "admin")


@pytest.fixture
def client(app: Any) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _visit(
    client: TestClient,
    site: Seeded,
    url: str = CPC,
    ua: str = CHROME,
    referrer: str | None = None,
) -> dict[str, Any]:
    body = json.dumps({"site": site.key, "url": url, "referrer": referrer})
    r = client.post(
        "/t/v1/session",
        content=body,
        headers={"Content-Type": "text/plain", "User-Agent": ua},
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _ping(client: TestClient, session: str) -> dict[str, Any]:
    body = json.dumps({"session": session, "visible": True})
    r = client.post("/t/v1/ping", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _exhausted(client: TestClient, site: Seeded) -> dict[str, Any]:
    """A visitor who got the default number with a code (the pool's number is taken)."""
    _visit(client, site, "https://shop.example/")
    coded = _visit(client, site)
    assert coded["reason"] == "exhausted" and coded["visit_code"]
    return coded


def _call(client: TestClient, hook: Hook, to: str, call_id: str = "pbx-1") -> str:
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    now = time.time()
    reply = hook.post(client, {**base, "event": "started", "at": iso(now)})
    assert reply.status_code == 200, reply.text
    hook.post(client, {**base, "event": "ended", "at": iso(now + 40), "talk": 30})
    return str(reply.json()["call"])


def _enter(client: TestClient, token: str, call: str, code: object) -> Any:
    return client.post(
        f"/api/v1/calls/{call}/visit-code",
        json={"code": code},
        headers={"Authorization": f"Bearer {token}"},
    )


def _get(client: TestClient, token: str, call: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/calls/{call}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _coded_events(engine: Engine) -> int:
    e = call_events.c
    with engine.connect() as conn:
        query = select(func.count()).where(e.kind == visit_code.KIND)
        return int(conn.execute(query).scalar_one())


# --- the tracker side ---------------------------------------------------------------------


def test_an_exhausted_pool_answers_the_default_number_with_a_code(
    client: TestClient, site: Seeded
) -> None:
    first = _visit(client, site)
    assert first["reason"] == "pool" and first["visit_code"] is None
    second = _visit(client, site)
    assert second["number"] == site.default and second["reason"] == "exhausted"
    code = second["visit_code"]
    assert isinstance(code, str) and len(code) == 4 and code.isdigit() and code[0] != "0"
    # pings keep the same code; another visitor gets another one
    assert _ping(client, second["session"])["visit_code"] == code
    assert _ping(client, first["session"])["visit_code"] is None
    third = _visit(client, site)
    assert third["visit_code"] not in (None, code)


def test_no_code_without_a_pool_for_bots_or_opted_out_channels(
    client: TestClient, engine: Engine
) -> None:
    no_pool = seed_site(engine, pool_size=0)
    plain = _visit(client, no_pool)
    assert (plain["reason"], plain["visit_code"]) == ("default", None)
    busy = seed_site(engine, pool_size=1, excluded=("organic",))
    assert _visit(client, busy)["reason"] == "pool"
    bot = _visit(client, busy, ua="Mozilla/5.0 (compatible; Googlebot/2.1)")
    assert (bot["reason"], bot["visit_code"]) == ("bot", None)
    searched = _visit(client, busy, "https://shop.example/", referrer="https://yandex.ru/")
    assert (searched["reason"], searched["visit_code"]) == ("excluded", None)
    assert _visit(client, busy, "https://shop.example/")["visit_code"]  # direct: exhausted


def _config(engine: Engine, site: Seeded) -> Any:
    with transaction(engine) as conn:
        return load_site_config(conn, site_id=site.site_id)


def test_the_code_goes_when_a_pool_number_comes_and_after_a_long_silence(
    engine: Engine, site: Seeded
) -> None:
    config, clock = _config(engine, site), Clock()

    def start() -> tracking.Assignment:
        visit = tracking.Visit(url="https://shop.example/", user_agent=CHROME)
        return tracking.start_session(engine, config, visit, clock)

    def ping(session: str) -> tracking.Assignment:
        got = tracking.ping(engine, lambda _id: config, session, clock)
        assert got is not None
        return got

    holder, waiting = start(), start()
    assert holder.reason == "pool" and waiting.visit_code
    # the holder leaves; once its hold and the cooldown are over the waiting visit gets the
    # number and shows no code any more
    assert tracking.leave(engine, lambda _id: config, holder.session, clock)
    clock.advance(config.pool.hold_after_leave + config.pool.cooldown + 1)
    moved = ping(waiting.session)
    assert (moved.reason, moved.visit_code) == ("pool", None)

    # a visit silent for longer than a code lives loses its code to whoever has it now
    other = start()
    assert other.reason == "exhausted" and other.visit_code
    old = other.visit_code
    clock.advance(visit_code.LIFETIME + 1)
    taker = start()  # the number is free again (`moved` went silent): it takes it
    assert taker.reason == "pool"
    with transaction(engine) as conn:  # a newer visit was given the silent one's code
        conn.execute(update(sessions).where(sessions.c.id == taker.session).values(visit_code=old))
    back = ping(other.session)
    assert back.reason == "exhausted" and back.visit_code not in (None, old)


def test_codes_are_unique_among_the_sites_recent_visits(engine: Engine, site: Seeded) -> None:
    config, clock = _config(engine, site), Clock()
    codes = []
    for _ in range(150):
        visit = tracking.Visit(url="https://shop.example/", user_agent=CHROME)
        codes.append(tracking.start_session(engine, config, visit, clock).visit_code)
        clock.advance(0.1)  # well inside the first visit's hold
    given = [c for c in codes if c]
    assert len(given) == 149 and len(set(given)) == 149


# --- entering a code ----------------------------------------------------------------------


def test_a_crm_attributes_a_default_number_call_by_its_code(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, token: str
) -> None:
    coded = _exhausted(client, site)
    call = _call(client, hook, site.default or "")
    before = _get(client, token, call)
    assert before["match"]["method"] == "none" and before["match"]["visit_code"] is None

    r = _enter(client, token, call, coded["visit_code"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["match"]["method"] == "visit_code" and got["match"]["confidence"] == 1.0
    assert got["session_id"] == coded["session"] and got["visitor_id"] == coded["visitor"]
    assert got["channel"]["source"] == "yandex" and got["channel"]["medium"] == "cpc"
    assert got["channel"]["campaign"] == "spring"
    entry = got["match"]["visit_code"]
    assert entry["code"] == coded["visit_code"] and entry["entered_by"] == "token:CRM"
    assert _get(client, token, call) == got
    listed = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"}).json()
    assert listed["items"][0]["match"]["method"] == "visit_code"
    assert listed["items"][0]["channel"]["source"] == "yandex"


def test_reprocessing_and_redelivery_keep_the_attribution(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, token: str
) -> None:
    coded = _exhausted(client, site)
    call = _call(client, hook, site.default or "")
    assert _enter(client, token, call, coded["visit_code"]).status_code == 200
    expected = _get(client, token, call)

    # the PBX redelivers its events and sends a late recording; the call is applied again
    base = {"call_id": "pbx-1", "caller": "+79161234567", "called": site.default}
    late = {**base, "event": "recording", "at": iso(time.time()), "recording_url": "https://r/1"}
    assert hook.post(client, late).status_code == 200
    assert calls.apply(engine, call, time.time)
    again = _get(client, token, call)
    assert again["match"] == expected["match"] and again["channel"] == expected["channel"]
    assert again["recording_url"] == "https://r/1"

    # entering the same code again (a CRM retrying) stores nothing new
    assert _enter(client, token, call, f"code {coded['visit_code']}").status_code == 200
    assert _coded_events(engine) == 1


def test_a_second_code_replaces_the_first_and_the_latest_wins(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, token: str
) -> None:
    first = _exhausted(client, site)
    second = _visit(client, site, "https://shop.example/?utm_source=google&utm_medium=cpc")
    call = _call(client, hook, site.default or "")
    assert _enter(client, token, call, first["visit_code"]).status_code == 200
    r = _enter(client, token, call, second["visit_code"])
    assert r.json()["session_id"] == second["session"]
    assert r.json()["channel"]["source"] == "google"
    assert r.json()["match"]["visit_code"]["code"] == second["visit_code"]
    back = _enter(client, token, call, first["visit_code"]).json()
    assert back["session_id"] == first["session"] and back["channel"]["source"] == "yandex"
    assert _coded_events(engine) == 3


def test_an_operator_enters_the_code_on_the_calls_page(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    _user(engine, site, "op@shop.example", "operator")
    login = {"email": "op@shop.example", "password": PASSWORD}
    assert client.post("/app/login", data=login, follow_redirects=False).status_code == 303
    coded = _exhausted(client, site)
    call = _call(client, hook, site.default or "")
    page = client.get(f"/app/calls/{call}").text
    assert f'action="/app/calls/{call}/visit-code"' in page

    r = client.post(
        f"/app/calls/{call}/visit-code",
        data={"code": coded["visit_code"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/app/calls/{call}"
    page = client.get(f"/app/calls/{call}").text
    assert f'<strong id="visit-code">{coded["visit_code"]}</strong>' in page
    assert "visit_code, confidence 1.00" in page and "yandex / cpc" in page
    assert "op@shop.example" in page

    bad = client.post(f"/app/calls/{call}/visit-code", data={"code": "12"})
    assert bad.status_code == 400 and 'id="visit-code-error"' in bad.text
    unknown = client.post(f"/app/calls/{call}/visit-code", data={"code": "999999"})
    assert unknown.status_code == 404 and "no visit showed code" in unknown.text
    forged = client.post(
        f"/app/calls/{call}/visit-code",
        data={"code": coded["visit_code"]},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert client.post("/app/calls/nope/visit-code", data={"code": "4821"}).status_code == 404


def test_an_expired_or_unknown_code_is_404_with_a_reason(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, token: str
) -> None:
    config = _config(engine, site)
    clock = Clock(time.time() - visit_code.LIFETIME - 3_600)
    taken = tracking.start_session(
        engine, config, tracking.Visit(url="https://shop.example/", user_agent=CHROME), clock
    )
    assert taken.reason == "pool"
    old = tracking.start_session(
        engine, config, tracking.Visit(url="https://shop.example/", user_agent=CHROME), clock
    )
    assert old.visit_code
    call = _call(client, hook, site.default or "")
    r = _enter(client, token, call, old.visit_code)
    assert r.status_code == 404 and "no visit showed code" in r.json()["error"]
    unused = next(c for c in ("1000", "1001", "1002") if c != old.visit_code)
    assert _enter(client, token, call, unused).status_code == 404
    assert _get(client, token, call)["match"]["method"] == "none"


def test_other_accounts_see_404_and_their_codes_do_not_count(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, token: str
) -> None:
    theirs = seed_site(engine, pool_size=1)
    their_token = _user(engine, theirs, "them@other.example", "owner")
    their_code = _exhausted(client, theirs)["visit_code"]
    ours = _exhausted(client, site)
    call = _call(client, hook, site.default or "")

    r = _enter(client, their_token, call, ours["visit_code"])
    assert r.status_code == 404 and r.json()["error"] == "no such call"
    if their_code != ours["visit_code"]:
        assert _enter(client, token, call, their_code).status_code == 404
    assert _get(client, token, call)["match"]["method"] == "none"
    no_token = client.post(f"/api/v1/calls/{call}/visit-code", json={"code": "4821"})
    assert no_token.status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"code": ""}, 400),
        ({"code": "abc"}, 400),
        ({"code": "0482"}, 400),
        ({"code": "12345678"}, 400),
        ({"code": "4821'; DROP TABLE calls; --"}, 400),
        ({"code": "4" * 100_000}, 400),
        ({"code": "\u0664\u0668\u0662\u0661"}, 400),
        ({"code": 10**40}, 400),
        ({"code": "48\x0021"}, 422),
        ({"code": None}, 422),
        ({"code": ["4821"]}, 422),
        ({"code": {"$ne": 1}}, 422),
        ({}, 422),
        ([], 422),
        ("4821", 422),
    ],
)
def test_hostile_input_gets_a_reason_never_a_500(
    client: TestClient,
    engine: Engine,
    site: Seeded,
    hook: Hook,
    token: str,
    body: object,
    status: int,
) -> None:
    call = _call(client, hook, site.default or "")
    r = client.post(
        f"/api/v1/calls/{call}/visit-code",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]


def test_hostile_call_ids_and_bodies_get_a_reason(
    client: TestClient, site: Seeded, token: str
) -> None:
    auth_header = {"Authorization": f"Bearer {token}"}
    for call_id in ("x" * 2_000, "c%00", "..%2F..%2Fetc", "' OR 1=1 --"):
        r = client.post(
            f"/api/v1/calls/{call_id}/visit-code", json={"code": "4821"}, headers=auth_header
        )
        assert r.status_code == 404, (call_id, r.text)
    for raw, ctype in (
        (b"{", "application/json"),
        (b"\xff\xfe", "application/json"),
        (b'{"code":"4821"}', "text/plain"),
    ):
        r = client.post(
            "/api/v1/calls/cabc/visit-code",
            content=raw,
            headers={**auth_header, "Content-Type": ctype},
        )
        assert r.status_code in (400, 422), r.text


def test_a_crowded_site_gets_longer_codes(engine: Engine, site: Seeded) -> None:
    config, clock = _config(engine, site), Clock()
    # every 4-digit code is taken by a visit seen a minute ago
    rows = [
        {
            "id": f"crowd{code}",
            "account_id": site.account_id,
            "site_id": site.site_id,
            "visitor_id": f"v{code}",
            "started_at": clock() - 600,
            "last_seen_at": clock() - 60,
            "landing_url": "https://shop.example/",
            "source": "(direct)",
            "medium": "(none)",
            "utm": {},
            "click_ids": {},
            "client_ids": {},
            "number_reason": "exhausted",
            "visit_code": str(code),
        }
        for code in range(1000, 10_000)
    ]
    with transaction(engine) as conn:
        conn.execute(sessions.insert(), rows)
    visit = tracking.Visit(url="https://shop.example/", user_agent=CHROME)
    assert tracking.start_session(engine, config, visit, clock).reason == "pool"
    longer = tracking.start_session(engine, config, visit, clock).visit_code
    assert longer is not None and len(longer) == 5


def test_concurrent_visits_get_distinct_codes(engine: Engine, site: Seeded) -> None:
    config = _config(engine, site)
    visit = tracking.Visit(url="https://shop.example/", user_agent=CHROME)

    def start(_: int) -> str | None:
        return tracking.start_session(engine, config, visit, time.time).visit_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(start, range(120)))
    given = [c for c in codes if c]
    assert len(given) == 119 and len(set(given)) == 119
