"""With the database unreachable the tracker answers 503 with a reason, never a 500."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from callpath import settings as settings_mod
from callpath.web.app import create_app
from tests.helpers import free_port


def test_unreachable_database_is_a_503_with_a_reason() -> None:
    url = f"postgresql://callpath@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    app = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": url}))
    client = TestClient(app, raise_server_exceptions=False)
    r = client.post(
        "/t/v1/session", content=json.dumps({"site": "abc", "url": "https://a.example/"})
    )
    assert r.status_code == 503
    assert r.json() == {"error": "database unavailable, try again shortly"}
    assert r.headers["access-control-allow-origin"] == "*"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["ok"] is False
