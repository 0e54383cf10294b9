"""The site, settings, number and integration forms answer a success with a 303 to a page
(a reload never posts again); an error is answered in place with the input kept. A new
integration's secret is shown once, on the page the redirect leads to."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from callpath.storage.tables import integrations
from tests.helpers import Seeded, next_number, page_login


def _integrations(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(integrations)).scalar_one())


def test_every_form_redirects_after_a_success(app: object, engine: Engine, site: Seeded) -> None:
    page: TestClient = page_login(app, engine, site, "owner")
    base = f"/app/sites/{site.site_id}"
    posts = [
        ("/app/sites", {"name": "Flowers", "default_destination": "+74951096375"}),
        (f"{base}/settings", {"name": "Renamed"}),
        (f"{base}/numbers", {"number": next_number(), "kind": "pool"}),
        (f"{base}/integrations", {"name": "Office PBX", "kind": "generic"}),
    ]
    for url, data in posts:
        r = page.post(url, data=data, follow_redirects=False)
        assert r.status_code == 303, (url, r.status_code)
        assert r.headers["location"].startswith("/app/sites/"), url


def test_a_new_integrations_secret_is_shown_once_after_the_redirect(
    app: object, engine: Engine, site: Seeded
) -> None:
    page: TestClient = page_login(app, engine, site, "admin")
    url = f"/app/sites/{site.site_id}/integrations"
    made = page.post(url, data={"name": "Office PBX"}, follow_redirects=False)
    assert made.status_code == 303 and "new-secret" not in made.text
    shown = page.get(made.headers["location"].split("#")[0])
    secret = re.search(r'id="new-secret">([0-9a-f]{64})<', shown.text)
    assert secret is not None
    again = page.get(f"/app/sites/{site.site_id}")  # a reload: no secret, nothing posted
    assert secret.group(1) not in again.text
    assert _integrations(engine) == 1


def test_an_error_keeps_the_input_and_stores_nothing(
    app: object, engine: Engine, site: Seeded
) -> None:
    page: TestClient = page_login(app, engine, site, "admin")
    url = f"/app/sites/{site.site_id}/integrations"
    r = page.post(url, data={"name": "Twilio line", "kind": "twilio", "secret": "short"})
    assert r.status_code == 400 and 'value="Twilio line"' in r.text
    assert _integrations(engine) == 0
