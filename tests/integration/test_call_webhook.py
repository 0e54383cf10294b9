"""The generic call webhook over HTTP: fail closed, clear 400s, idempotent, any order."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls, integrations
from callpath.web.app import create_app
from tests.helpers import Hook, Seeded, call_row, count, iso, page_login, seed_site, wait_for

CALLER = "+79161234567"


@pytest.fixture
def client(engine: Engine, database_url: str, tmp_path: Path) -> TestClient:
    settings = settings_mod.load(
        {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


def started(to: str, call_id: str = "pbx-1", **extra: Any) -> dict[str, Any]:
    return {
        "event": "started",
        "call_id": call_id,
        "at": iso(time.time()),
        "caller": CALLER,
        "called": to,
        **extra,
    }


def test_started_is_answered_with_the_routing_decision(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    r = hook.post(client, started(site.pool[0]))
    assert r.status_code == 200, r.text
    assert r.json()["forward_to"] == site.original  # the site's default destination
    assert r.json()["call"].startswith("c")
    with transaction(engine) as conn:
        setup.add_number(
            conn,
            site.account_id,
            site.site_id,
            setup.NumberInput(number="+74957770001", kind="pool", forward_to="+74951234567"),
            time.time(),
        )
    own = hook.post(client, started("8 (495) 777-00-01", call_id="pbx-2"))
    assert own.json()["forward_to"] == "+74951234567"


def test_unknown_number_goes_to_the_sites_default(
    client: TestClient, site: Seeded, hook: Hook
) -> None:
    r = hook.post(client, started("+74959998877"))
    assert (r.status_code, r.json()["forward_to"]) == (200, site.original)


def test_redelivery_changes_nothing_and_answers_the_same(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    body = json.dumps(started(site.pool[0])).encode()
    first = client.post(hook.path, content=body, headers=hook.headers(body))
    wait_for(lambda: _all_applied(engine))  # a slow apply finishes in the background
    before = call_row(engine)
    again = client.post(hook.path, content=body, headers=hook.headers(body))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert count(engine, call_events) == 1
    wait_for(lambda: _all_applied(engine))
    assert call_row(engine) == before


def _all_applied(engine: Engine) -> bool:
    with engine.connect() as conn:
        pending = select(call_events.c.id).where(call_events.c.applied_at.is_(None))
        return conn.execute(pending).first() is None


def test_events_in_any_order_fold_into_one_call(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    now = time.time()
    base = {"call_id": "x-9", "caller": CALLER, "called": site.pool[1]}
    events = [
        {**base, "event": "recording", "at": iso(now + 90), "recording_url": "https://pbx/r.mp3"},
        {**base, "event": "ended", "at": iso(now + 70), "duration": 70, "talk": 61},
        {**base, "event": "started", "at": iso(now)},
        {**base, "event": "answered", "at": iso(now + 9)},
    ]
    for event in events:
        assert hook.post(client, event).status_code == 200
    call = call_row(engine)
    assert (call["state"], call["status"]) == ("ended", "answered")
    assert call["started_at"] == pytest.approx(now, abs=0.001)
    assert (call["wait"], call["talk"], call["duration"]) == pytest.approx((9, 61, 70), abs=0.01)
    assert call["recording_url"] == "https://pbx/r.mp3"
    assert count(engine, call_events) == 4
    wait_for(lambda: _all_applied(engine))  # on PostgreSQL the call worker applies them


def test_unsigned_stale_or_forged_requests_are_401(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    body = json.dumps(started(site.pool[0])).encode()
    cases = {
        "no headers": {"Content-Type": "application/json"},
        "bad signature": {**hook.headers(body), "X-Callpath-Signature": "0" * 64},
        "stale": hook.headers(body, at=time.time() - 600),
        "future": hook.headers(body, at=time.time() + 600),
        "other secret": Hook(hook.integration_id, "not-the-secret").headers(body),
    }
    for name, headers in cases.items():
        r = client.post(hook.path, content=body, headers=headers)
        assert r.status_code == 401, name
        assert r.json()["error"], name
    unknown = client.post("/hooks/generic/int_nope", content=body, headers=hook.headers(body))
    assert unknown.status_code == 401
    assert count(engine, call_events) == 0


def test_an_integration_without_a_secret_refuses_everything(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    with transaction(engine) as conn:
        conn.execute(update(integrations).values(secret=""))
    body = json.dumps(started(site.pool[0])).encode()
    r = client.post(hook.path, content=body, headers=Hook(hook.integration_id, "").headers(body))
    assert r.status_code == 401
    assert "secret" in r.json()["error"]


def test_malformed_events_are_400_with_a_reason(
    client: TestClient, engine: Engine, hook: Hook
) -> None:
    for raw, reason in [
        (b"{", "JSON"),
        (b'{"event":"started","call_id":"1","at":"2026-01-01T00:00:00Z"}', "called"),
        (b'{"event":"ended","call_id":"1","at":"soon"}', "at"),
    ]:
        r = client.post(hook.path, content=raw, headers=hook.headers(raw))
        assert r.status_code == 400
        assert reason in r.json()["error"]
    ignored = b'{"event":"transfer","call_id":"1","at":1.8e9}'
    r = client.post(hook.path, content=ignored, headers=hook.headers(ignored))
    assert r.status_code == 200 and "ignored" in r.json()
    huge = b'{"pad":"' + b"x" * 70_000 + b'"}'
    assert client.post(hook.path, content=huge, headers=hook.headers(huge)).status_code == 413
    assert count(engine, call_events) == 0


def test_signed_garbage_never_makes_a_500(client: TestClient, hook: Hook, site: Seeded) -> None:
    rng = random.Random(7)
    values: list[Any] = [
        None,
        True,
        -1,
        1e308,
        "",
        "x" * 300,
        "+7",
        "\u202e",
        [],
        {},
        "<b>",
        "2026-02-30T00:00:00Z",
        site.pool[0],
        "anonymous",
        1.8e9,
    ]
    keys = [
        "event",
        "call_id",
        "at",
        "caller",
        "called",
        "duration",
        "talk",
        "status",
        "recording_url",
    ]
    for _ in range(300):
        body_obj: dict[str, Any] = {k: rng.choice(values) for k in keys if rng.random() < 0.7}
        if rng.random() < 0.6:
            body_obj["event"] = rng.choice(["started", "answered", "ended", "recording"])
        body = json.dumps(body_obj).encode()
        r = client.post(hook.path, content=body, headers=hook.headers(body))
        assert r.status_code in (200, 400), (body, r.text)
        assert "error" in r.json() or "call" in r.json() or "ignored" in r.json()


def test_an_integration_cannot_reach_another_accounts_numbers(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    theirs = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        conn.execute(
            update(calls.metadata.tables["tracking_numbers"])
            .where(calls.metadata.tables["tracking_numbers"].c.e164 == theirs.pool[0])
            .values(forward_to="+74950001122")
        )
    r = hook.post(client, started(theirs.pool[0]))
    assert r.json()["forward_to"] == site.original  # ours, not their destination
    call = call_row(engine)
    assert (call["account_id"], call["site_id"], call["number_id"]) == (
        site.account_id,
        site.site_id,
        None,
    )


def test_the_journal_links_only_recordings_the_call_page_links(
    app: Any, client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    now = time.time()
    for pbx, url in (("r1", "http://pbx.example/r1.mp3"), ("r2", "https://pbx.example/r2.mp3")):
        base = {"call_id": pbx, "caller": "+79161234567", "called": site.pool[0]}
        assert hook.post(client, {**base, "event": "started", "at": iso(now)}).status_code == 200
        recording = {**base, "event": "recording", "at": iso(now + 60), "recording_url": url}
        assert hook.post(client, recording).status_code == 200
    wait_for(lambda: count(engine, calls) == 2)
    journal = page_login(app, engine, site, "analyst").get("/app/calls").text
    assert 'href="https://pbx.example/r2.mp3"' in journal
    assert 'href="http://pbx.example/r1.mp3"' not in journal  # shown on the call's page only
    assert "on the call&#39;s page" in journal or "on the call's page" in journal
