"""The error page a browser gets on /app: its heading says what the status means (a 403
is "Not allowed", not "Cannot do that"), whichever way the error was raised."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from callpath.storage.db import transaction
from callpath.storage.tables import invitations
from callpath.web.errors import heading
from tests.helpers import Seeded, add_login, browser


def _heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page)
    assert found, page
    return found.group(1)


@pytest.fixture
def analyst(app: Any, engine: Engine, site: Seeded) -> Any:
    return browser(app, add_login(engine, site, "analyst"))


def test_a_403_says_not_allowed(analyst: Any) -> None:
    page = analyst.get("/app/users")  # owners and admins only
    assert page.status_code == 403 and _heading(page.text) == "Not allowed"
    forged = analyst.post("/app/me/logout-everywhere", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403 and _heading(forged.text) == "Not allowed"


def test_a_404_says_not_found(analyst: Any) -> None:
    for path in ("/app/nowhere", "/app/sites/99999", "/app/calls/99999"):
        page = analyst.get(path)
        assert page.status_code == 404 and _heading(page.text) == "Not found", path


def test_a_405_says_so(analyst: Any) -> None:
    page = analyst.get("/app/logout")  # a form posts there
    assert page.status_code == 405 and _heading(page.text) == "Not available this way"


def test_a_413_says_too_large(analyst: Any) -> None:
    page = analyst.post("/app/me/password", content=b"x" * 20_000)
    assert page.status_code == 413 and _heading(page.text) == "Too large"


def test_a_410_says_no_longer_valid(app: Any, engine: Engine, site: Seeded) -> None:
    owner = browser(app, add_login(engine, site, "owner"))
    invite = {"email": "late@shop.example", "role": "analyst"}
    assert owner.post("/app/users", data=invite, follow_redirects=False).status_code == 303
    link = re.search(r'"invitation-link">http://testserver([^<]+)<', owner.get("/app/users").text)
    assert link
    with transaction(engine) as conn:
        conn.execute(update(invitations).values(expires_at=1.0))
    page = TestClient(app, headers={"Accept": "text/html"}).get(link.group(1))
    assert page.status_code == 410 and _heading(page.text) == "No longer valid"


def test_a_400_still_says_cannot_do_that(analyst: Any, site: Seeded) -> None:
    page = analyst.get(f"/app/reports?site={site.site_id}&from=yesterday")
    assert page.status_code == 400 and _heading(page.text) == "Cannot do that"


def test_every_client_error_has_its_own_heading() -> None:
    fallback = heading(400)
    for status in HTTPStatus:
        if 400 < status < 500:
            assert heading(status) != fallback, status
    assert heading(429) == "Too many requests" and heading(409) == "Conflict"
    assert heading(503) != fallback and heading(599) != fallback
