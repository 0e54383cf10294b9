"""UTM tags and referrers are attacker-controlled: they must never run as code, neither on
the shop's page nor in the admin pages that list visits."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine

from callpath.services import accounts
from callpath.storage.db import transaction
from tests.browser.shop import campaign_query, session_row, shop_url, visit
from tests.helpers import Seeded, seed_site

pytestmark = pytest.mark.browser

SOURCE = "<script>window.__pwned=1</script>"
CAMPAIGN = "<img src=x onerror=window.__pwned=1>"
TERM = '"><svg onload=window.__pwned=1>'
REFERRER = "https://evil.example/'\"><script>window.__pwned=1</script>?q=<b onmouseover=alert(1)>"
EMAIL, PASSWORD = "owner@shop.test", "correct horse battery"


def owner(engine: Engine, site: Seeded) -> None:
    with transaction(engine) as conn:
        accounts.create_user(conn, site.account_id, EMAIL, PASSWORD, "owner", time.time())


def not_pwned(page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x'], svg[onload], b[onmouseover]").count() == 0


def test_hostile_utm_and_referrer_never_execute(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    owner(engine, site)
    landing = shop_url(host, server, site, "/landing")
    query = campaign_query(SOURCE, CAMPAIGN, TERM)
    visitor = new_tab()
    answer = visit(visitor, f"{landing}?{query}", referer=REFERRER)
    visitor.wait_text("#f-e164", answer["number"])
    not_pwned(visitor.page)
    assert visitor.errors == []
    stored = session_row(engine, answer["session"])
    assert (stored["source"], stored["campaign"]) == (SOURCE, CAMPAIGN)

    admin = new_tab()
    page = admin.page
    page.goto(f"{server.url}/app/login")
    not_pwned(page)
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{server.url}/app"
    not_pwned(page)

    page.goto(f"{server.url}/app/sites/{site.site_id}")
    not_pwned(page)
    visit_row = page.locator("tr", has_text="cpc")
    assert visit_row.count() == 1
    cells = visit_row.locator("td").all_text_contents()
    assert f"{SOURCE} / cpc" in cells
    assert CAMPAIGN in cells
    assert TERM in cells
    html = page.content()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=window.__pwned=1&gt;" in html
    page.wait_for_timeout(300)  # give any injected handler its chance
    not_pwned(page)
    assert admin.errors == []
