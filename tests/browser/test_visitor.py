"""A visitor keeps its id (localStorage, else a first-party cookie) and its number."""

from __future__ import annotations

import pytest
from playwright.sync_api import Response

from tests.browser.shop import HOST, is_session, rendered, session_row, shop_url, visit
from tests.helpers import seed_site

pytestmark = pytest.mark.browser

# localStorage.getItem/setItem throw (blocked storage, old Safari private mode);
# sessionStorage keeps working.
BLOCK_LOCAL_STORAGE = """
(() => {
  const local = window.localStorage, get = Storage.prototype.getItem,
        set = Storage.prototype.setItem;
  Storage.prototype.getItem = function (k) {
    if (this === local) throw new DOMException("blocked", "SecurityError");
    return get.call(this, k);
  };
  Storage.prototype.setItem = function (k, v) {
    if (this === local) throw new DOMException("blocked", "QuotaExceededError");
    return set.call(this, k, v);
  };
})();
"""


def test_visitor_id_is_kept_in_local_storage(engine, server, host, new_context, new_tab):
    site = seed_site(engine, pool_size=3)
    url = shop_url(host, server, site)
    context = new_context()
    first = new_tab(context)
    answer = visit(first, url)
    stored = first.page.evaluate(f"JSON.parse(localStorage.getItem('_cp_{site.key}'))")
    assert stored["v"] == answer["visitor"]
    first.page.close()

    again = new_tab(context)  # a new tab: new sessionStorage, same localStorage
    second = visit(again, url)
    assert again.body(again.tracker_posts("session")[0])["visitor"] == answer["visitor"]
    assert second["visitor"] == answer["visitor"]
    assert second["session"] != answer["session"]
    assert second["number"] == answer["number"]


def test_visitor_id_falls_back_to_a_cookie_when_local_storage_throws(
    engine, server, host, new_context, new_tab
):
    site = seed_site(engine, pool_size=3)
    url = shop_url(host, server, site)
    context = new_context()
    context.add_init_script(BLOCK_LOCAL_STORAGE)
    first = new_tab(context)
    answer = visit(first, url)
    first.wait_text("#f-e164", answer["number"])
    cookies = {c["name"]: c["value"] for c in context.cookies()}
    assert cookies[f"_cp_{site.key}"] == answer["visitor"]
    assert first.errors == []
    first.page.close()

    again = new_tab(context)
    second = visit(again, url)
    assert again.body(again.tracker_posts("session")[0])["visitor"] == answer["visitor"]
    assert second["visitor"] == answer["visitor"]
    assert second["number"] == answer["number"]
    assert again.errors == []


def test_returning_visitor_sees_its_number_before_the_server_answers(
    engine, server, host, new_context, new_tab
):
    site = seed_site(engine, pool_size=3)
    url = shop_url(host, server, site)
    context = new_context()
    first = new_tab(context)
    number = visit(first, url)["number"]
    first.page.close()

    again = new_tab(context)
    page = again.page
    answered: list[Response] = []
    page.on("response", lambda r: answered.append(r) if is_session(r) else None)

    def slow(route):
        try:
            page.wait_for_timeout(2000)
            route.continue_()
        except Exception:  # the page went away meanwhile
            pass

    page.route("**/t/v1/session", slow)
    page.goto(url)
    again.wait_text("#f-e164", number, timeout=1500)
    assert answered == []  # shown from the saved hold, not from the network
    assert page.text_content("#f-intl") == rendered("f-intl", number)

    for _ in range(100):  # the held request goes on after 2 s
        if answered:
            break
        page.wait_for_timeout(100)
    assert answered[0].json()["number"] == number
    page.wait_for_timeout(200)
    assert page.text_content("#f-e164") == number
    assert page.get_attribute("#tel", "href") == f"tel:{number}"
    page.unroute_all(behavior="ignoreErrors")


def test_visitor_cookie_is_host_only(engine, server, host, new_context, new_tab):
    site = seed_site(engine, pool_size=3)
    context = new_context()
    tab = new_tab(context)
    visit(tab, shop_url(host, server, site))
    tab.page.wait_for_function(f"document.cookie.indexOf('_cp_{site.key}=') >= 0")
    cookie = next(c for c in context.cookies() if c["name"] == f"_cp_{site.key}")
    assert cookie["domain"] == HOST  # no Domain attribute: never ".shop.test"
    assert cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax"
    assert cookie["httpOnly"] is False
    assert not cookie["domain"].startswith(".")
    # and callpath's own origin got no cookie from the tracker endpoints
    assert [c for c in context.cookies() if c["domain"] == "127.0.0.1"] == []


def test_returning_visitor_session_is_recorded_for_the_same_visitor(
    engine, server, host, new_context, new_tab
):
    site = seed_site(engine, pool_size=3)
    url = shop_url(host, server, site)
    context = new_context()
    a = visit(new_tab(context), url)
    b = visit(new_tab(context), url)
    assert session_row(engine, a["session"])["visitor_id"] == a["visitor"]
    assert session_row(engine, b["session"])["visitor_id"] == a["visitor"]
