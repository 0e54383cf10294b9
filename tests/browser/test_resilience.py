"""The host page never suffers: callpath down or slow, or a page that broke its globals."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import delete

from callpath.storage.tables import sites, tracking_numbers
from tests.browser.shop import FORMATS, ORIGINAL, is_session, shop_page, shop_url, visit
from tests.helpers import ServerProcess, free_port, seed_site

pytestmark = pytest.mark.browser


def assert_original(tab):
    for fmt_id, text in FORMATS.items():
        assert tab.text(f"#{fmt_id}") == text, fmt_id
    assert tab.page.get_attribute("#tel", "href") == f"tel:{ORIGINAL}"
    tab.page.wait_for_selector("#late")
    assert tab.text("#late") == "Sales: " + FORMATS["f-intl"]


def test_server_down_leaves_the_page_alone(engine, database_url, tmp_path, host, new_tab):
    site = seed_site(engine, pool_size=2)
    # The page has the snippet (e.g. from a cache) but callpath is gone by the time it calls.
    with ServerProcess(database_url, free_port(), tmp_path / "down.log") as down:
        snippet = httpx.get(f"{down.url}/t/{site.key}.js").text
    assert down.url in snippet
    host.add("/snippet.js", snippet, "text/javascript")
    tab = new_tab()
    with tab.page.expect_event(
        "requestfailed", lambda r: r.url.endswith("/t/v1/session"), timeout=10_000
    ):
        tab.page.goto(host.add("/", shop_page("/snippet.js")))
    assert tab.page.evaluate("window.__callpath") == 1  # the snippet did run
    assert_original(tab)
    assert tab.errors == []
    assert tab.own_errors() == []


def test_server_slower_than_three_seconds_leaves_the_page_alone(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    tab = new_tab()
    page = tab.page
    answered: list[object] = []
    page.on("response", lambda r: answered.append(r) if is_session(r) else None)

    def slow(route):  # the real request, only 5 s late
        try:
            page.wait_for_timeout(5_000)
            route.continue_()
        except Exception:  # the snippet gave up on it: nothing left to continue
            pass

    page.route("**/t/v1/session", slow)
    with page.expect_event(
        "requestfailed", lambda r: r.url.endswith("/t/v1/session"), timeout=10_000
    ) as failed:
        page.goto(shop_url(host, server, site))
    assert answered == []
    assert failed.value.failure is not None
    assert_original(tab)
    assert tab.errors == []
    assert tab.own_errors() == []
    page.unroute_all(behavior="ignoreErrors")


BROKEN_PAGES = {
    "JSON.parse and JSON.stringify throw": """
        JSON.parse = function () { throw new SyntaxError("shop broke JSON.parse"); };
        JSON.stringify = function () { throw new TypeError("shop broke JSON.stringify"); };
    """,
    "fetch throws": """
        window.fetch = function () { throw new TypeError("blocked by an extension"); };
    """,
    "fetch returns junk": "window.fetch = function () { return 42; };",
    "storage and cookies throw": """
        for (const name of ["localStorage", "sessionStorage"]) {
          Object.defineProperty(window, name, {configurable: true,
            get() { throw new DOMException("denied", "SecurityError"); }});
        }
        Object.defineProperty(Document.prototype, "cookie", {configurable: true,
          get() { throw new DOMException("denied", "SecurityError"); },
          set() { throw new DOMException("denied", "SecurityError"); }});
    """,
    "Blob and sendBeacon throw": """
        window.Blob = function () { throw new TypeError("no Blob here"); };
        navigator.sendBeacon = function () { throw new TypeError("no beacons"); };
    """,
}


@pytest.mark.parametrize("breakage", BROKEN_PAGES.values(), ids=list(BROKEN_PAGES))
def test_snippet_never_throws_into_a_broken_page(
    engine, server, host, new_context, new_tab, breakage
):
    site = seed_site(engine, pool_size=2)
    context = new_context()
    context.add_init_script(breakage)
    tab = new_tab(context)
    page = tab.page
    page.goto(shop_url(host, server, site))
    page.wait_for_function("window.__callpath === 1")
    page.wait_for_selector("#late")  # 1 s after load: the session call is over by now
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    page.click("#tel")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    page.wait_for_timeout(300)
    assert page.text_content("h1") == "Call us"
    assert tab.errors == []


def test_snippet_never_throws_when_the_page_breaks_things_later(engine, server, host, new_tab):
    site = seed_site(engine, pool_size=2)
    tab = new_tab()
    page = tab.page
    answer = visit(tab, shop_url(host, server, site))
    tab.wait_text("#f-e164", answer["number"])
    page.evaluate("""() => {
        window.fetch = function () { throw new TypeError("fetch gone"); };
        JSON.stringify = function () { throw new TypeError("stringify gone"); };
        window.Blob = function () { throw new TypeError("no Blob"); };
        Object.defineProperty(window, "sessionStorage", {configurable: true,
          get() { throw new DOMException("denied", "SecurityError"); }});
    }""")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")  # pings
    page.click("#tel")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    page.wait_for_timeout(300)
    assert tab.errors == []
    assert tab.text("#f-e164") == answer["number"]


def test_storage_blocked_page_still_gets_a_number(engine, server, host, new_context, new_tab):
    site = seed_site(engine, pool_size=2)
    context = new_context()
    context.add_init_script(BROKEN_PAGES["storage and cookies throw"])
    tab = new_tab(context)
    answer = visit(tab, shop_url(host, server, site))
    assert answer["number"] in site.pool
    tab.wait_text("#f-e164", answer["number"])
    assert tab.errors == []


def test_deleted_site_does_not_loop(engine, server, host, new_tab):
    """The page still has the snippet of a site that was deleted since: /t/v1/session
    answers 404, and the snippet must take that as final (no retry storm)."""
    site = seed_site(engine, pool_size=2)
    host.add("/snippet.js", httpx.get(f"{server.url}/t/{site.key}.js").text, "text/javascript")
    with engine.begin() as conn:
        conn.execute(delete(tracking_numbers).where(tracking_numbers.c.site_id == site.site_id))
        conn.execute(delete(sites).where(sites.c.id == site.site_id))
    tab = new_tab()
    with tab.page.expect_response(is_session) as info:
        tab.page.goto(host.add("/", shop_page("/snippet.js")))
    assert info.value.status == 404
    tab.page.wait_for_selector("#late")
    assert len(tab.tracker_posts("session")) == 1
    assert_original(tab)
    assert tab.errors == []
