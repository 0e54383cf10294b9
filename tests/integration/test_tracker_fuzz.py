"""Random hostile bodies at the public tracker endpoints: always a 2xx/4xx, never a 500."""

from __future__ import annotations

import json
import random

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.web.app import create_app
from tests.helpers import seed_site

NASTY = [
    "",
    " ",
    "\x00",
    "\ud800",
    "<script>alert(1)</script>",
    "javascript:alert(1)",
    "https://",
    "http://[::1",
    "https://a.example/?utm_source=%ZZ&utm_medium=%00",
    "android-app://",
    "💥" * 50,
    "a" * 3000,
    "https://xn--80ak6aa92e.com/",
    "=cmd|' /C calc'!A0",
    "https://user:pass@evil.example:99999/",
    "\u202e\u2028",
    "null",
    "1e309",
]


def _value(rng: random.Random, site_key: str) -> object:
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice(NASTY)
    if choice == 1:
        return site_key
    if choice == 2:
        return rng.randrange(-(2**70), 2**70)
    if choice == 3:
        return rng.random() * 1e300
    if choice == 4:
        return [rng.choice(NASTY) for _ in range(rng.randrange(4))]
    if choice == 5:
        return {"x": rng.choice(NASTY)}
    if choice == 6:
        return None
    if choice == 7:
        return rng.choice([True, False])
    return "https://shop.example/?" + "&".join(
        f"{rng.choice(['utm_source', 'utm_term', 'gclid', 'yclid', 'x'])}={rng.choice(NASTY)}"
        for _ in range(rng.randrange(4))
    )


@pytest.mark.parametrize("path", ["session", "ping", "leave", "event"])
def test_random_bodies_never_break_the_server(engine: Engine, database_url: str, path: str) -> None:
    site = seed_site(engine, pool_size=3)
    app = create_app(settings_mod.load({"CALLPATH_DATABASE_URL": database_url}))
    client = TestClient(app, raise_server_exceptions=False)
    rng = random.Random(f"fuzz-{path}")
    start = client.post(
        "/t/v1/session", content=json.dumps({"site": site.key, "url": "https://shop.example/"})
    ).json()
    valid = {
        "site": site.key,
        "url": "https://shop.example/",
        "session": start["session"],
        "kind": "tel_click",
        "visible": True,
    }
    fields = ["site", "visitor", "session", "url", "referrer", "ga", "ym", "kind", "visible"]
    statuses: list[int] = []
    for _ in range(150):
        body: dict[str, object] = dict(valid)  # mutate a valid body: reach deep code too
        body.update({f: _value(rng, site.key) for f in rng.sample(fields, rng.randrange(1, 4))})
        raw = json.dumps(body, ensure_ascii=rng.random() < 0.5)
        r = client.post(
            f"/t/v1/{path}",
            content=raw.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "text/plain"},
        )
        assert r.status_code in (200, 400, 403, 404, 413), (r.status_code, raw[:300], r.text)
        assert "error" in r.json() or r.status_code == 200
        statuses.append(r.status_code)
    assert len(set(statuses)) > 1, statuses  # both accepted and refused bodies were tried
