"""Zadarma notifications that a captured message could forge, over HTTP against the real
app and database, with Zadarma's statistics API played by a local fake: stale
notifications are refused, an END needs its call's START, and the outcome is the one in
Zadarma's statistics, whatever unsigned `disposition` or `duration` an END carries."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls, integrations
from callpath.telephony.zadarma import adapter, api, freshness
from callpath.web.hooks.zadarma import API_URL_ENV
from callpath.workers.zadarma_confirm import Confirmer
from tests.helpers import Seeded, call_row, count, wait_for
from tests.integration.test_zadarma_webhook import (
    CALL_START,
    SECRET,
    ZONE,
    Zadarma,
    client,
    digits,
    notification,
)
from tests.zadarma_api_fake import FakeZadarmaApi

__all__ = ["client"]  # the app fixture, shared with test_zadarma_webhook
API_KEY = "a248a6a984459935b569"


def make_integration(engine: Engine, site: Seeded, secret: str) -> str:
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "zadarma", "Zadarma", time.time(), secret
        )
    return made.id


@pytest.fixture
def fake() -> Any:
    with FakeZadarmaApi(API_KEY, SECRET) as api:
        yield api


@pytest.fixture
def keyed(
    engine: Engine, site: Seeded, client: TestClient, fake: FakeZadarmaApi, monkeypatch: Any
) -> Zadarma:
    """An integration holding the API key as well (`KEY:SECRET`), the API at the fake."""
    monkeypatch.setenv(API_URL_ENV, fake.url)
    return Zadarma(client, make_integration(engine, site, f"{API_KEY}:{SECRET}"))


@pytest.fixture
def zd(engine: Engine, site: Seeded, client: TestClient) -> Zadarma:
    return Zadarma(client, make_integration(engine, site, SECRET))


def statistics_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(call_events.c.id).where(call_events.c.kind == adapter.STATISTICS)
        return len(conn.execute(query).all())


def test_a_start_dated_2020_is_refused_and_stores_nothing(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    called = digits(site.pool[0])
    for call_start in ("2020-03-01 12:00:00", freshness.wall_text(time.time() - 2 * 86_400)):
        r = zd.post(notification("notify_start", called_did=called, call_start=call_start))
        assert r.status_code == 401, r.text
        assert "call_start" in r.json()["error"]
    old_end = freshness.wall_text(time.time() + ZONE - 3 * 86_400)
    r = zd.post(notification("notify_end", called_did=called, call_start=old_end))
    assert r.status_code == 401
    r = zd.post(notification("notify_start", called_did=called, call_start="yesterday"))
    assert (r.status_code, "call_start" in r.json()["error"]) == (400, True)
    assert count(engine, call_events) == 0
    # every zone's "now" is fresh: UTC-12 and UTC+14 accounts alike
    for n, offset in enumerate((-12 * 3600, 14 * 3600)):
        now_there = freshness.wall_text(time.time() + offset)
        start = notification(
            "notify_start", called_did=called, call_start=now_there, pbx_call_id=f"in_z{n}"
        )
        assert zd.post(start).status_code == 200


def test_an_end_for_a_call_whose_start_we_do_not_hold_makes_no_call(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    called = digits(site.pool[0])
    r = zd.post(notification("notify_end", called_did=called, pbx_call_id="in_unknown"))
    assert r.status_code == 200, r.text  # acknowledged (Zadarma need not retry) ...
    assert count(engine, calls) == 0  # ... kept for audit, but no call
    assert count(engine, call_events) == 1
    # the START arriving late brings the END in: order still does not matter
    zd.post(notification("notify_start", called_did=called, pbx_call_id="in_unknown"))
    assert (call_row(engine)["state"], call_row(engine)["duration"]) == ("ended", 75)


def test_an_end_signed_for_another_call_does_not_end_this_one(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    called = digits(site.pool[0])
    zd.post(notification("notify_start", called_did=called, pbx_call_id="in_victim"))
    # a signature lifted from another call's notification: other caller, other start
    other = {"caller_id": "79990001122", "call_start": freshness.wall_text(time.time() + ZONE - 60)}
    r = zd.post(notification("notify_end", called_did=called, pbx_call_id="in_victim", **other))
    assert r.status_code == 200
    call = call_row(engine)
    assert (call["state"], call["status"]) == ("started", None)


def _line(pbx_call_id: str, disposition: str, seconds: int) -> dict[str, Any]:
    """A line of the PBX statistics, version 2, as documented."""
    return {
        "call_id": 1772355600.4711,
        "sip": 100,
        "callstart": CALL_START,
        "clid": 79161234567,
        "destination": 100,
        "disposition": disposition,
        "seconds": seconds,
        "is_recorded": True,
        "pbx_call_id": pbx_call_id,
    }


def test_the_statistics_decide_the_outcome_not_a_forged_or_replayed_end(
    engine: Engine, site: Seeded, keyed: Zadarma, fake: FakeZadarmaApi
) -> None:
    fake.lines = [_line("in_real", "answered", 75), _line("in_other", "busy", 0)]
    called = digits(site.pool[0])
    start = notification("notify_start", called_did=called, pbx_call_id="in_real")
    assert keyed.post(start).status_code == 200
    # a forged END reaches us first: same signed fields, unsigned outcome made up
    forged = notification(
        "notify_end", called_did=called, pbx_call_id="in_real", disposition="busy", duration="0"
    )
    assert keyed.post(forged).status_code == 200
    real = notification("notify_end", called_did=called, pbx_call_id="in_real")
    assert keyed.post(real).status_code == 200
    wait_for(lambda: statistics_rows(engine) == 1 and call_row(engine)["status"] == "answered")
    call = call_row(engine)
    assert (call["state"], call["status"], call["duration"]) == ("ended", "answered", 75)
    asked = fake.requests[0]
    assert asked["version"] == "2"
    assert asked["start"] <= CALL_START <= asked["end"]
    # replayed again later with another outcome: nothing changes
    replay = {**forged, "disposition": "no answer", "duration": "3"}
    assert keyed.post(replay).status_code == 200
    call = call_row(engine)
    assert (call["status"], call["duration"]) == ("answered", 75)
    assert count(engine, call_events) == 5  # all kept for audit


def test_rate_limits_and_refusals_of_the_api_back_off(
    engine: Engine, site: Seeded, zd: Zadarma, fake: FakeZadarmaApi, tmp_path: Path
) -> None:
    called = digits(site.pool[0])
    zd.post(notification("notify_start", called_did=called, pbx_call_id="in_late"))
    zd.post(notification("notify_end", called_did=called, pbx_call_id="in_late"))
    with transaction(engine) as conn:  # the key given later: the hook woke nothing
        conn.execute(update(integrations).values(secret=f"{API_KEY}:{SECRET}"))
    folded: list[str] = []
    pace = tmp_path / "pace"
    fake.limit = 0  # every request is answered 429
    assert Confirmer(engine, time.time, folded.append, fake.url, pace).run_once() == 1
    assert statistics_rows(engine) == 0
    fake.limit, fake.lines = None, [_line("in_late", "answered", 75)]
    # another process of the server shares the pace: it does not ask either
    assert Confirmer(engine, time.time, folded.append, fake.url, pace).run_once() == 1
    assert fake.requests == []
    unpaced = Confirmer(engine, time.time, folded.append, fake.url, tmp_path / "other")
    assert unpaced.run_once() == 0
    assert (statistics_rows(engine), folded) == (1, [call_row(engine)["id"]])
    wrong = api.Account(fake.url, API_KEY, "not-the-secret")
    with httpx.Client() as http, pytest.raises(api.ApiError, match="401"):
        api.pbx_statistics(http, wrong, CALL_START, CALL_START)
