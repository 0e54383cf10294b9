"""The snippet shows each visitor a pool number, in the page's own formatting."""

from __future__ import annotations

import pytest

from tests.browser.shop import (
    FORMATS,
    UNTOUCHED,
    event_kinds,
    rendered,
    session_row,
    shop_url,
    visit,
)
from tests.helpers import seed_site

pytestmark = pytest.mark.browser


def test_every_format_shows_the_allocated_number_in_its_own_format(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=3)
    tab = new_tab()
    answer = visit(tab, shop_url(host, server, site))
    number = answer["number"]
    assert number in site.pool
    assert session_row(engine, answer["session"])["e164"] == number

    for fmt_id in FORMATS:
        tab.wait_text(f"#{fmt_id}", rendered(fmt_id, number))
    assert tab.page.get_attribute("#tel", "href") == f"tel:{number}"
    assert tab.errors == []


def test_script_style_textarea_and_input_keep_the_original(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=3)
    tab = new_tab()
    number = visit(tab, shop_url(host, server, site))["number"]
    tab.wait_text("#f-e164", number)  # substitution has run over the whole page

    page = tab.page
    assert page.text_content("#script") == UNTOUCHED["script"]
    assert page.text_content("#style") == UNTOUCHED["style"]
    assert page.text_content("#textarea") == UNTOUCHED["textarea"]
    assert page.input_value("#textarea") == UNTOUCHED["textarea"]
    assert page.get_attribute("#input", "value") == UNTOUCHED["input"]
    assert page.input_value("#input") == UNTOUCHED["input"]
    assert page.evaluate("window.shopPhone") == "+74951096375"


def test_content_added_after_load_is_replaced(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=3)
    tab = new_tab()
    number = visit(tab, shop_url(host, server, site))["number"]
    tab.wait_text("#late", "Sales: " + rendered("f-intl", number))


def test_two_visitors_get_different_numbers(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=3)
    url = shop_url(host, server, site)
    first, second = new_tab(), new_tab()
    a = visit(first, url)["number"]
    b = visit(second, url)["number"]
    assert a in site.pool and b in site.pool
    assert a != b
    first.wait_text("#f-e164", a)
    second.wait_text("#f-e164", b)


def test_exhausted_pool_shows_the_default_number_and_records_it(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=1)
    url = shop_url(host, server, site)
    first, second = new_tab(), new_tab()
    assert visit(first, url)["number"] == site.pool[0]

    answer = visit(second, url)
    assert answer["number"] == site.default
    assert answer["reason"] == "exhausted"
    assert site.default is not None
    second.wait_text("#f-intl", rendered("f-intl", site.default))
    assert second.page.get_attribute("#tel", "href") == f"tel:{site.default}"
    assert event_kinds(engine, site.site_id) == ["pool_exhausted"]
    assert session_row(engine, answer["session"])["number_reason"] == "exhausted"
