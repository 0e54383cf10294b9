"""Pings while visible, a leave beacon on pagehide only, tel: clicks as events."""

from __future__ import annotations

import pytest

from callpath.domain.pool import PoolSettings
from tests.browser.shop import (
    event_kinds,
    reservation_until,
    session_events,
    session_row,
    shop_url,
    visit,
    wait_db,
)
from tests.helpers import seed_site

pytestmark = pytest.mark.browser

GO_HIDDEN = """() => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_visible_page_pings_and_moves_the_hold_forward(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2, pool=PoolSettings(ping_interval=5))
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    before = reservation_until(engine, answer["session"])

    with tab.page.expect_response(lambda r: r.url.endswith("/t/v1/ping"), timeout=8_000) as info:
        pass
    assert info.value.status == 200
    assert info.value.json()["number"] == answer["number"]
    assert tab.body(info.value.request) == {"session": answer["session"], "visible": True}
    assert reservation_until(engine, answer["session"]) > before + 3


def test_hidden_page_sends_no_leave_and_no_ping(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2, pool=PoolSettings(ping_interval=5))
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    tab.page.evaluate(GO_HIDDEN)
    tab.page.wait_for_timeout(5_500)  # past one ping interval

    # (beacons never show up as Playwright requests: the database is the witness)
    assert session_row(engine, answer["session"])["left_at"] is None
    assert tab.tracker_posts("ping") == []
    assert tab.errors == []


def test_pagehide_sends_a_leave_beacon(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    assert session_row(engine, answer["session"])["left_at"] is None

    tab.page.goto(host.add("/elsewhere", "<!doctype html><p>bye</p>"))
    left = wait_db(lambda: session_row(engine, answer["session"])["left_at"])
    assert left is not None


def test_closing_the_tab_sends_a_leave_beacon(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    tab.page.close(run_before_unload=True)
    assert wait_db(lambda: session_row(engine, answer["session"])["left_at"]) is not None


def test_tel_click_is_recorded(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    tab.wait_text("#f-e164", answer["number"])
    assert event_kinds(engine, site.site_id) == []

    tab.page.click("#tel")
    assert wait_db(lambda: session_events(engine, site.site_id)) == [
        (answer["session"], "tel_click")
    ]
