"""Logging out is a form POST like the others: refused from another site's page."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.web.app import create_app
from tests.helpers import add_login, log_in, seed_site


def test_logout_from_another_sites_page_is_refused(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path)}
    client = log_in(
        TestClient(create_app(settings_mod.load(env))),
        add_login(engine, seed_site(engine), "owner"),
    )
    forged = client.post(
        "/app/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert forged.status_code == 403 and forged.json()["error"] == "form posted from another site"
    assert client.get("/app", follow_redirects=False).status_code == 200  # still logged in
    own = client.post(
        "/app/logout", headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert own.status_code == 303
    assert client.get("/app", follow_redirects=False).headers["location"] == "/app/login"
