"""`/api/v1` takes only the query parameters each endpoint declares (a misspelt filter is
a 400 naming it, never ignored), and the sessions list filters by visitor. The tracker
and the webhooks take what their callers add."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.helpers import Seeded, api_headers

VISIT = "https://shop.example/?utm_source=yandex&utm_medium=cpc"


def _visit(client: TestClient, site: Seeded, visitor: str | None = None) -> dict[str, Any]:
    r = client.post("/t/v1/session", json={"site": site.key, "url": VISIT, "visitor": visitor})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_sessions_filter_by_visitor(client: TestClient, engine: Engine, site: Seeded) -> None:
    first = _visit(client, site)
    again = _visit(client, site, first["visitor"])
    other = _visit(client, site)
    headers = api_headers(engine, site)
    r = client.get(f"/api/v1/sessions?visitor_id={first['visitor']}", headers=headers)
    assert r.status_code == 200
    assert {s["id"] for s in r.json()["items"]} == {first["session"], again["session"]}
    assert {s["visitor_id"] for s in r.json()["items"]} == {first["visitor"]}
    everyone = client.get("/api/v1/sessions", headers=headers).json()["items"]
    assert other["session"] in {s["id"] for s in everyone}
    nobody = client.get("/api/v1/sessions?visitor_id=nobody", headers=headers)
    assert nobody.json()["items"] == []


def test_another_accounts_visitor_is_not_found(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    from tests.helpers import seed_site

    theirs = seed_site(engine, pool_size=1)
    visit = _visit(client, theirs)
    r = client.get(
        f"/api/v1/sessions?visitor_id={visit['visitor']}", headers=api_headers(engine, site)
    )
    assert r.status_code == 200 and r.json()["items"] == []


def test_an_unknown_parameter_is_a_400_naming_it(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    headers = api_headers(engine, site)
    r = client.get("/api/v1/sessions?visitor=abc&sitee=1", headers=headers)
    assert r.status_code == 400
    assert r.json() == {"error": "sitee, visitor: not a parameter of this endpoint"}
    r = client.get("/api/v1/calls?status=missed&limit=5", headers=headers)
    assert r.status_code == 200  # declared ones pass
    r = client.get("/api/v1/calls.csv?site=1&from=2026-01-01", headers=headers)
    assert r.status_code == 200  # a dependency's parameters count as declared
    r = client.get("/api/v1/reports/channels?typo=1", headers=headers)
    assert r.status_code == 400 and "typo: not a parameter of this report" in r.json()["error"]


def test_every_api_get_refuses_an_unknown_parameter(
    client: TestClient, engine: Engine, site: Seeded
) -> None:
    headers = api_headers(engine, site, "owner")
    paths = [
        path
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        if path.startswith("/api/v1/") and "get" in operations
    ]
    assert len(paths) > 10
    for path in paths:
        url = re.sub(r"\{[a-z_]+\}", "1", path)
        r = client.get(f"{url}?no_such_filter=1", headers=headers)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert "no_such_filter: not a parameter" in r.json()["error"], path


def test_the_tracker_and_webhooks_take_extra_parameters(client: TestClient, site: Seeded) -> None:
    assert client.get(f"/t/{site.key}.js?v=3&cache=bust").status_code == 200
    r = client.post("/t/v1/session?x=1", json={"site": site.key, "url": VISIT})
    assert r.status_code == 200
