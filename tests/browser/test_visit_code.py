"""When the pool is exhausted the page shows the default number with the visit code."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from callpath.domain.pool import PoolSettings
from callpath.storage.db import transaction
from callpath.storage.tables import tracking_numbers
from tests.browser.shop import rendered, session_row, shop_page, snippet_src, visit, wait_db
from tests.helpers import seed_site

pytestmark = pytest.mark.browser

OWN_SPOT = '<p id="visit-box">Your visit code: <b id="own" class="callpath-code"></b></p>'
LABEL = """(sel) => getComputedStyle(document.querySelector(sel), "::after").content"""
HAS_CODE = """() => document.documentElement.classList.contains("callpath-has-code")"""


def _page(host, server, site, path="/", head=""):  # type: ignore[no-untyped-def]
    html = shop_page(snippet_src(server, site), head)
    return host.add(path, html.replace('<div id="late-box">', OWN_SPOT + '<div id="late-box">'))


def test_the_default_number_shows_with_the_visit_code(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=1, pool=PoolSettings(ping_interval=5, cooldown=0))
    url = _page(host, server, site)
    first, second = new_tab(), new_tab()
    assert visit(first, url)["number"] == site.pool[0]
    answer = visit(second, url)
    code = answer["visit_code"]
    assert answer["number"] == site.default and answer["reason"] == "exhausted" and code
    assert site.default is not None

    page = second.page
    second.wait_text("#f-intl", rendered("f-intl", site.default))  # the number's text as is
    second.wait_text("#own", code)  # the site's own spot for the code
    for fmt in ("#f-intl", "#f-eight", "#f-compact8", "#f-e164", "#late"):
        page.wait_for_selector(f"{fmt}[data-callpath-code='{code}']")
        assert page.evaluate(LABEL, fmt) == f'" (code {code})"'
    assert page.get_attribute("#tel", "href") == f"tel:{site.default}"
    assert page.evaluate(HAS_CODE)
    # the label is drawn, not written into the text: it adds width but no characters
    assert page.evaluate("() => document.body.innerText").count(code) == 1  # #own only

    # the visitor with the pool number sees no code anywhere
    first.wait_text("#f-e164", site.pool[0])
    assert first.page.query_selector("[data-callpath-code]") is None
    assert first.text("#own") == "" and not first.page.evaluate(HAS_CODE)
    assert second.errors == [] and first.errors == []


def test_the_code_goes_away_when_the_visit_gets_a_pool_number(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=1, pool=PoolSettings(ping_interval=5, cooldown=0))
    url = _page(host, server, site)
    first, second = new_tab(), new_tab()
    held = visit(first, url)["session"]
    code = visit(second, url)["visit_code"]
    second.wait_text("#own", code)
    first.page.close()
    assert wait_db(lambda: session_row(engine, held)["left_at"])  # its leave beacon came
    with transaction(engine) as conn:  # and the hold it left for has run out
        conn.execute(update(tracking_numbers).values(held_until=0))

    second.wait_text("#f-e164", site.pool[0], timeout=15_000)  # after the next ping
    second.wait_text("#own", "")
    assert second.page.query_selector("[data-callpath-code]") is None
    assert not second.page.evaluate(HAS_CODE)
    assert second.errors == []


def test_the_sites_own_css_restyles_the_label(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=1)
    css = '<style>[data-callpath-code]::after{content:" / kod " attr(data-callpath-code)}</style>'
    url = _page(host, server, site, head=css)
    visit(new_tab(), url)
    tab = new_tab()
    code = visit(tab, url)["visit_code"]
    tab.page.wait_for_selector(f"#f-intl[data-callpath-code='{code}']")
    assert tab.page.evaluate(LABEL, "#f-intl") == f'" / kod {code}"'
