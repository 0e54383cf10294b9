"""A Zadarma / Novofon call out (NOTIFY_OUT_START, NOTIFY_OUT_END), signed as documented,
against the real app and database: stored as the business's call to the customer, never
redirected, matched or counted as a lead; a missed caller it reaches is called back. Its
notifications get the same freshness and START-before-END checks as a call in's."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from callpath.storage.tables import call_events, calls
from callpath.telephony.zadarma import freshness
from tests.helpers import Seeded, calls_by_provider_id, classified_leads, count, wait_for
from tests.integration.test_zadarma_forgery import _line, fake, keyed, statistics_rows
from tests.integration.test_zadarma_webhook import (
    CALLER,
    ZONE,
    Zadarma,
    client,
    digits,
    notification,
    zd,
)
from tests.zadarma_api_fake import FakeZadarmaApi

# the app and integration fixtures of test_zadarma_webhook, the keyed one and its fake API
__all__ = ["client", "fake", "keyed", "zd"]


def call_out(zd: Zadarma, pbx_call_id: str, line: str, **end: str) -> list[int]:
    """The PBX dialling CALLER from `line`: OUT_START, then OUT_END with `end`."""
    common = {"pbx_call_id": pbx_call_id, "caller_id": line, "destination": CALLER}
    start = zd.post(notification("notify_out_start", **common), query="?extension=100")
    assert start.status_code == 200, start.text
    assert start.json() == {}  # never redirected: the PBX's own call
    finish = zd.post(notification("notify_out_end", **common, **end))
    return [start.status_code, finish.status_code]


def test_a_missed_caller_reached_by_a_call_out_is_called_back(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    missed = zd.call(
        digits(site.pool[0]),
        "in_missed",
        "notify_start",
        "notify_end",
        disposition="no answer",
        duration="0",
        is_recorded="0",
    )
    assert [r.status_code for r in missed] == [200, 200]
    assert call_out(zd, "out_back", digits(site.pool[0])) == [200, 200]
    stored = calls_by_provider_id(engine)
    out = stored["out_back"]
    assert (out["direction"], out["caller"], out["tracking_number"]) == (
        "outbound",
        "+" + CALLER,
        site.pool[0],
    )
    assert (out["state"], out["status"], out["duration"]) == ("ended", "answered", 42)
    assert (out["match_method"], out["session_id"], out["forward_to"]) == ("outbound", None, None)
    assert stored["in_missed"]["direction"] == "inbound"
    leads = classified_leads(engine)
    assert leads[out["id"]]["kind"] == "outbound"  # no lead: all verdicts no
    assert not any(leads[out["id"]][v] for v in ("first_time", "target", "missed", "lost"))
    back = leads[stored["in_missed"]["id"]]
    assert back["missed"] and not back["lost"]
    assert back["called_back_after"] == pytest.approx(0, abs=30)


def test_an_unanswered_call_out_leaves_the_caller_lost(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    zd.call(digits(site.pool[0]), "in_lost", "notify_start", "notify_end", disposition="busy")
    statuses = call_out(zd, "out_busy", "0", disposition="busy", duration="0")
    assert statuses == [200, 200]
    out = calls_by_provider_id(engine)["out_busy"]
    assert (out["direction"], out["status"], out["tracking_number"]) == ("outbound", "busy", None)
    lost = classified_leads(engine)[calls_by_provider_id(engine)["in_lost"]["id"]]
    assert lost["lost"] and lost["called_back_after"] is None


def test_a_call_out_needs_its_own_fresh_signed_out_start(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    stale = freshness.wall_text(time.time() + ZONE - 2 * 86_400)
    old = zd.post(notification("notify_out_start", call_start=stale, pbx_call_id="out_old"))
    assert old.status_code == 401 and "call_start" in old.json()["error"]
    tampered = notification("notify_out_start", pbx_call_id="out_t")
    r = zd.post({**tampered, "destination": "79990001122"}, Signature="bm90")
    assert r.status_code == 401
    blank = zd.post(notification("notify_out_start", destination="", pbx_call_id="out_b"))
    assert blank.status_code == 400 and "destination" in blank.json()["error"]
    assert count(engine, call_events) == 0
    # an OUT_END alone makes no call; an OUT_END signed for another call ends nothing
    lone = zd.post(notification("notify_out_end", pbx_call_id="out_lone"))
    assert (lone.status_code, count(engine, calls)) == (200, 0)
    zd.post(notification("notify_out_start", pbx_call_id="out_victim"))
    other = freshness.wall_text(time.time() + ZONE - 60)
    lifted = notification("notify_out_end", pbx_call_id="out_victim", call_start=other)
    assert zd.post(lifted).status_code == 200
    victim = calls_by_provider_id(engine)["out_victim"]
    assert (victim["direction"], victim["state"]) == ("outbound", "started")


def test_the_statistics_decide_a_call_outs_outcome(
    engine: Engine, site: Seeded, keyed: Zadarma, fake: FakeZadarmaApi
) -> None:
    fake.lines = [_line("out_real", "answered", 40)]
    forged = {"disposition": "no answer", "duration": "0"}  # unsigned: made up
    assert call_out(keyed, "out_real", digits(site.pool[0]), **forged) == [200, 200]
    wait_for(lambda: statistics_rows(engine) == 1)
    wait_for(lambda: calls_by_provider_id(engine)["out_real"]["status"] == "answered")
    call = calls_by_provider_id(engine)["out_real"]
    assert (call["direction"], call["duration"]) == ("outbound", 40)
