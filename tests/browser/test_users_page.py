"""The users page in Chromium, on a phone's width: an owner invites someone (the link is
shown once after the redirect, through the notice cookie a real browser keeps), the guest
sets a password at the link and is logged in, and nothing on these pages is wider than
the screen or smaller than a finger; deactivating them (confirmed first) logs them out."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import Engine

from callpath.services import accounts
from callpath.storage.db import transaction
from tests.helpers import PASSWORD, ServerProcess, seed_site, user_row

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _fits(page: Page) -> None:
    """No sideways scrolling, and every control at least 40 px tall."""
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), page.url
    small = page.evaluate(
        """[...document.querySelectorAll(
            'header a, header button, main a, main button, main select, main input')]
          .filter(e => e.type !== 'hidden' && e.getBoundingClientRect().height < 40)
          .map(e => e.outerHTML.slice(0, 80))"""
    )
    assert small == [], page.url


def test_invite_on_a_phone(
    server: ServerProcess, engine: Engine, new_context: Callable[..., BrowserContext]
) -> None:
    site = seed_site(engine)
    with transaction(engine) as conn:
        accounts.create_user(
            conn, site.account_id, "owner@shop.test", PASSWORD, "owner", time.time()
        )
    page = new_context(viewport=PHONE).new_page()
    page.goto(f"{server.url}/app/login")
    page.fill("input[name=email]", "owner@shop.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("header >> text=Users")
    _fits(page)
    page.fill("#add-user input[name=email]", "a.rather.long.name@shop.test")
    page.select_option("#add-user select[name=role]", "admin")
    page.click("#add-user button[type=submit]")
    link = page.inner_text("#invitation-link")
    assert page.url.endswith("/app/users") and link.startswith(f"{server.url}/app/invite/")
    _fits(page)
    page.reload()
    assert page.locator("#invitation-link").count() == 0  # shown once

    guest = new_context(viewport=PHONE).new_page()
    guest.goto(link)
    _fits(guest)
    guest.fill("input[name=password]", "a guest's passphrase")
    guest.fill("input[name=repeat]", "a guest's passphrase")
    guest.click("button[type=submit]")
    assert guest.url == f"{server.url}/app"
    guest.goto(f"{server.url}/app/me")
    _fits(guest)
    assert user_row(engine, "a.rather.long.name@shop.test")["role"] == "admin"

    page.goto(f"{server.url}/app/users")
    page.click("#users tr:has-text('a.rather.long.name') >> text=Deactivate…")
    _fits(page)
    page.click("#confirm")
    assert "User deactivated" in page.inner_text("#notice")
    guest.reload()
    assert guest.url == f"{server.url}/app/login"
