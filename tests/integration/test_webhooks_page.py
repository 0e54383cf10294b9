"""The Webhooks page: added with a form (the secret shown once, after the redirect), a
private address refused without the admin's consent, the delivery log with a delivery's
attempts, send again, pause and resume, removal asked first; owners and admins only."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath.services import deals
from callpath.storage.db import transaction
from callpath.storage.tables import deliveries, destinations
from tests.helpers import Seeded, page_login


def _form(url: str, private: bool) -> dict[str, str]:
    form = {"url": url, "name": "Office CRM", "event_deal.updated": "on"}
    return {**form, "allow_private": "on"} if private else form


def test_a_webhook_added_on_the_page_shows_its_secret_once(
    app: object, engine: Engine, site: Seeded
) -> None:
    page: TestClient = page_login(app, engine, site, "admin")
    refused = page.post("/app/webhooks", data=_form("http://127.0.0.1:9/x", False))
    assert refused.status_code == 400 and "private or local address" in refused.text
    assert 'value="http://127.0.0.1:9/x"' in refused.text  # the input is kept
    made = page.post(
        "/app/webhooks", data=_form("http://127.0.0.1:9/x", True), follow_redirects=False
    )
    assert made.status_code == 303
    shown = page.get("/app/webhooks")
    secret = re.search(r'id="new-secret">([\w-]{40,})<', shown.text)
    assert secret is not None
    with engine.connect() as conn:
        row = conn.execute(select(destinations)).one()
    assert row.secret == secret.group(1) and row.events == "deal.updated" and row.allow_private
    assert secret.group(1) not in page.get("/app/webhooks").text  # once


def test_the_delivery_log_replays_pauses_and_removes(
    app: object, engine: Engine, site: Seeded
) -> None:
    page: TestClient = page_login(app, engine, site, "owner")
    page.post("/app/webhooks", data=_form("http://127.0.0.1:9/x", True))
    with engine.connect() as conn:
        hook = conn.execute(select(destinations.c.id)).scalar_one()
    deal = deals.DealInput(amount="900", site_id=site.site_id, status="won", external_id="w-1")
    with transaction(engine) as conn:
        deals.record(conn, site.account_id, deal, time.time())
    with engine.connect() as conn:
        delivery = conn.execute(select(deliveries.c.id)).scalar_one()
    log = page.get(f"/app/webhooks/{hook}")
    assert log.status_code == 200 and "deal.updated" in log.text
    one = page.get(f"/app/webhooks/{hook}/deliveries/{delivery}")
    assert one.status_code == 200 and "900.00" in one.text
    again = page.post(f"/app/webhooks/{hook}/deliveries/{delivery}/replay", follow_redirects=False)
    assert again.status_code == 303
    page.post(f"/app/webhooks/{hook}/pause")
    assert "paused (events queue up)" in page.get(f"/app/webhooks/{hook}").text
    page.post(f"/app/webhooks/{hook}/resume")
    asked = page.get(f"/app/webhooks/{hook}/remove")
    assert asked.status_code == 200 and 'id="confirm"' in asked.text
    page.post(f"/app/webhooks/{hook}/remove")
    with engine.connect() as conn:
        assert conn.execute(select(destinations)).all() == []
        assert conn.execute(select(deliveries)).all() == []


def test_only_owners_and_admins_see_webhooks(app: object, engine: Engine, site: Seeded) -> None:
    for role in ("analyst", "operator"):
        page: TestClient = page_login(app, engine, site, role)
        assert page.get("/app/webhooks").status_code == 403
        assert (
            page.post("/app/webhooks", data=_form("https://example.com/x", False)).status_code
            == 403
        )
