"""The public tracker endpoints over HTTP (in-process ASGI), hostile input included."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.storage.tables import pageviews, sessions
from callpath.web.app import create_app
from tests.helpers import seed_site

UA_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def client(engine: Engine, database_url: str) -> TestClient:
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_SITE_CACHE_SECONDS": "0",
        "CALLPATH_TRUSTED_PROXIES": "127.0.0.0/8,testclient",
    }
    try:
        settings = settings_mod.load(env)
    except settings_mod.SettingsError:
        env["CALLPATH_TRUSTED_PROXIES"] = "127.0.0.0/8"
        settings = settings_mod.load(env)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def post(client: TestClient, path: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    raw = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        f"/t/v1/{path}", content=raw, headers={"Content-Type": "text/plain", **headers}
    )


def test_session_start_records_the_visit_and_answers_cors(
    client: TestClient, engine: Engine
) -> None:
    site = seed_site(engine, pool_size=2)
    url = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring&utm_term=pizza&yclid=123"
    r = post(
        client,
        "session",
        {
            "site": site.key,
            "visitor": None,
            "url": url,
            "referrer": "https://yandex.ru/",
            "ga": "GA1.1.111.222",
            "ym": "1700000000123",
        },
        **{"User-Agent": UA_IPHONE, "Origin": "https://shop.example"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    data = r.json()
    assert data["number"] in site.pool
    assert data["national"] == data["number"][2:]
    assert data["display"].startswith("+7 ")
    with engine.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.id == data["session"])).one()
        views = conn.execute(select(pageviews.c.url)).scalars().all()
    assert (row.source, row.medium, row.campaign, row.keyword) == (
        "yandex",
        "cpc",
        "spring",
        "pizza",
    )
    assert row.click_ids == {"yclid": "123"}
    assert row.client_ids == {"ga": "111.222", "ym": "1700000000123"}
    assert (row.device, row.os) == ("mobile", "iOS")
    assert views == [url]


def test_preflight_is_answered(client: TestClient) -> None:
    r = client.options(
        "/t/v1/session",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("not json", 400, "not valid JSON"),
        ("[1, 2]", 400, "JSON object"),
        ('{"site": "nope", "url": "https://a.example/"}', 404, "unknown site"),
        ('{"site": "x<script>", "url": "https://a.example/"}', 404, "unknown site"),
        ('{"url": "https://a.example/"}', 400, "site"),
        ('{"site": "KEY", "url": 5}', 400, "url"),
        ('{"site": "KEY", "url": "javascript:alert(1)"}', 400, "http"),
        ('{"site": "KEY", "url": "https://a.example/' + "x" * 5000 + '"}', 400, "url"),
        (b"\xff\xfe\x00garbage", 400, "JSON"),
        ("[" * 4000 + "]" * 4000, 400, "JSON"),
        ('{"site": "KEY", "url": "https://a.example/", "referrer": "a\\u0000b"}', 400, "NUL"),
        ('{"site": "KEY", "url": "https://a.example/\\u0000"}', 400, "NUL"),
        ('{"site": "KEY", "url": "https://a.example/", "visitor": {"a": 1}}', 400, "visitor"),
    ],
)
def test_bad_session_bodies_get_a_reason(
    client: TestClient, engine: Engine, body: str, status: int, reason: str
) -> None:
    site = seed_site(engine, pool_size=1)
    raw = body.replace("KEY", site.key) if isinstance(body, str) else body
    r = post(client, "session", raw)
    assert r.status_code == status
    assert reason in r.json()["error"]


def test_oversized_body_is_refused(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    r = post(
        client, "session", {"site": site.key, "url": "https://a.example/", "pad": "x" * 20_000}
    )
    assert r.status_code == 413
    assert "larger" in r.json()["error"]


def test_restricted_site_refuses_foreign_origins(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=1, domains=("shop.example",))
    body = {"site": site.key, "url": "https://shop.example/"}
    assert post(client, "session", body, Origin="https://evil.example").status_code == 403
    assert post(client, "session", body).status_code == 403  # no Origin at all
    assert post(client, "session", body, Origin="https://www.shop.example").status_code == 200


def test_hostile_visitor_ids_are_replaced(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    r = post(
        client,
        "session",
        {
            "site": site.key,
            "url": "https://a.example/",
            "visitor": "<script>alert(1)</script>",
            "session": "../../x",
        },
    )
    assert r.status_code == 200
    assert r.json()["visitor"].isascii() and "<" not in r.json()["visitor"]


def test_ping_leave_event_validate_sessions(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    start = post(client, "session", {"site": site.key, "url": "https://a.example/"}).json()
    sid = start["session"]
    assert (
        post(client, "ping", {"session": sid, "visible": True}).json()["number"] == start["number"]
    )
    assert post(client, "event", {"session": sid, "kind": "tel_click"}).json() == {"ok": True}
    assert post(client, "leave", {"session": sid}).json() == {"ok": True}
    assert post(client, "ping", {"session": "A" * 22}).status_code == 404
    assert post(client, "ping", {"session": "bad id!"}).status_code == 400
    assert post(client, "event", {"session": sid, "kind": "<b>"}).status_code == 400
    assert post(client, "leave", {}).status_code == 400


def test_snippet_is_served_with_the_site_config(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    r = client.get(f"/t/{site.key}.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert f'"k": "{site.key}"' in r.text
    assert '"4951096375", "7"' in r.text
    assert client.get("/t/unknown.js").status_code == 404


def test_forwarded_for_counts_only_from_trusted_proxies(client: TestClient, engine: Engine) -> None:
    site = seed_site(engine, pool_size=2)
    body = {"site": site.key, "url": "https://a.example/"}
    r = post(client, "session", body, **{"X-Forwarded-For": "95.31.0.7"})
    with engine.connect() as conn:
        country = conn.execute(
            select(sessions.c.country).where(sessions.c.id == r.json()["session"])
        ).scalar()
    # TestClient's peer is "testclient", not a trusted proxy address: header ignored.
    assert country is None
