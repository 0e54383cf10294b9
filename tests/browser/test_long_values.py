"""A visit with a 4 KB landing URL and 255-character utm values, called: its call page,
the journal and the pool page (which lists it among the visits the pool could not serve)
wrap them or scroll a table inside its box instead of scrolling the page sideways, on a
phone (390 px) and a laptop (1366 px)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import Engine, select

from callpath.storage.tables import calls
from tests.browser.conftest import DESKTOP_CHROME
from tests.helpers import PASSWORD, ServerProcess, add_hook, add_login, iso, seed_site, wait_for

pytestmark = pytest.mark.browser

WIDTHS = (390, 1366)
SCREENSHOTS = os.environ.get("CALLPATH_SCREENSHOTS")  # a folder to keep them in, if set


def _long_landing() -> str:
    tags = {
        "utm_source": "yandex",
        "utm_medium": "cpc",
        "utm_campaign": "c" * 255,
        "utm_term": "t" * 255,
    }
    url = f"https://shop.example/{'deep/' * 40}landing?{urlencode(tags)}&ref="
    return url + "r" * (4096 - len(url))


def _called_visit(engine: Engine, server: ServerProcess) -> tuple[str, int]:
    """A visit with the long landing URL and a call to its number, and a second such visit
    that found the one pool number taken; the call's id once the server has matched it
    to the visit, and the site's id."""
    site = seed_site(engine, pool_size=1)
    landing = _long_landing()
    assert len(landing) == 4096
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body = json.dumps({"site": site.key, "url": landing})
        started = client.post(
            "/t/v1/session",
            content=body,
            headers={"Content-Type": "text/plain", "User-Agent": DESKTOP_CHROME},
        )
        assert started.status_code == 200, started.text
        again = client.post(
            "/t/v1/session",
            content=body,
            headers={"Content-Type": "text/plain", "User-Agent": DESKTOP_CHROME},
        )
        assert again.json()["reason"] == "exhausted"  # shown on the pool page
        hook, now = add_hook(engine, site), time.time()
        base = {"call_id": "pbx-1", "caller": "+79161234567", "called": started.json()["number"]}
        rang = hook.post(client, {**base, "event": "started", "at": iso(now)})
        assert rang.status_code == 200, rang.text
        hook.post(client, {**base, "event": "ended", "at": iso(now + 40), "talk": 30})
    call_id = str(rang.json()["call"])

    def matched() -> bool:
        with engine.connect() as conn:
            row = conn.execute(select(calls.c.session_id).where(calls.c.id == call_id)).first()
        return row is not None and row.session_id is not None

    wait_for(matched, seconds=120)  # folded by the server's apply process
    add_login(engine, site, "owner", email="owner@shop.test")
    return call_id, site.site_id


def _log_in(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/app/login")
    page.fill("input[name=email]", "owner@shop.test")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")


def test_the_call_page_of_a_4kb_landing_url_never_scrolls_sideways(
    engine: Engine,
    server: ServerProcess,
    new_context: Callable[..., BrowserContext],
    tmp_path: Path,
) -> None:
    call_id, site_id = _called_visit(engine, server)
    for width in WIDTHS:
        page = new_context(viewport={"width": width, "height": 900}).new_page()
        _log_in(page, server)
        for path in (f"/app/calls/{call_id}", "/app/calls", f"/app/sites/{site_id}/pool"):
            page.goto(f"{server.url}{path}")
            shot = (
                Path(SCREENSHOTS or tmp_path) / f"{path.strip('/').replace('/', '-')}-{width}.png"
            )
            page.screenshot(path=str(shot), full_page=True)
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert scroll <= inner, f"{path} at {width} px is {scroll} px wide: {shot}"
        # the whole URL is on the page, wrapped, not cut
        page.goto(f"{server.url}/app/calls/{call_id}")
        shown = page.locator("tr", has=page.locator("th", has_text="Landing page")).locator("td")
        assert shown.inner_text().replace("\n", "") == _long_landing()
