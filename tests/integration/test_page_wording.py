"""What the admin pages say, in the words and formats people read: phone numbers as the
journal shows them, durations instead of raw seconds, account-wide moments in the
account's own timezone, a browser named once."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, insert

from callpath.storage.db import transaction
from callpath.storage.tables import sessions
from tests.helpers import page_login, seed_site


def test_site_page_formats_numbers_durations_and_browsers(app: Any, engine: Engine) -> None:
    site = seed_site(engine)
    now = time.time()
    with transaction(engine) as conn:
        conn.execute(
            insert(sessions),
            [
                {
                    "id": "s-iphone",
                    "account_id": site.account_id,
                    "site_id": site.site_id,
                    "visitor_id": "v1",
                    "started_at": now,
                    "last_seen_at": now,
                    "landing_url": "https://shop.example/",
                    "source": "yandex",
                    "medium": "cpc",
                    "utm": {},
                    "click_ids": {},
                    "client_ids": {},
                    "device": "mobile",
                    "browser": "Mobile Safari",
                    "number_reason": "pool",
                }
            ],
        )
    for role in ("admin", "analyst"):
        page = page_login(app, engine, site, role)
        html = page.get(f"/app/sites/{site.site_id}").text
        assert "+7 495 109-63-75" in html  # the original number, as the journal shows it
        assert "<td>+7495" not in html
        assert "mobile Mobile Safari" not in html and "Mobile Safari" in html
        assert '<span class="muted">1 min</span>' in html or "Hold after leave: 1 min" in html
    assert "Hold after leave: 1 min" in html  # the summary the analyst reads: not "60 s"


def test_tokens_page_shows_times_in_the_accounts_zone(app: Any, engine: Engine) -> None:
    site = seed_site(engine)  # Europe/Moscow, the tests' default
    page = page_login(app, engine, site, "owner")
    assert page.post("/app/tokens", data={"name": "CRM sync", "role": "analyst"}).status_code == 200
    html = page.get("/app/tokens").text
    assert "CRM sync" in html
    assert " MSK" in html and " UTC" not in html


def test_users_page_shows_times_in_the_accounts_zone(app: Any, engine: Engine) -> None:
    site = seed_site(engine)
    html = page_login(app, engine, site, "owner").get("/app/users").text
    assert "page-owner@shop.example" in html
    assert " MSK" in html and " UTC" not in html
