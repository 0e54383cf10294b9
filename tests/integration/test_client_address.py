"""Only configured proxies may set the client address, in `callpath serve` as users run it.

uvicorn's own proxy-header handling trusts X-Forwarded-For from loopback by default; the
address must come from `enrich.client_ip` alone, which trusts CALLPATH_TRUSTED_PROXIES.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import sessions
from callpath.telephony.sip.adapter import AUTH_HEADER
from tests.helpers import Seeded, ServerProcess, free_port, seed_site

EDGE = "203.0.113.5"  # the only address the SIP hooks accept in these tests
MOSCOW = "77.88.8.8"  # an address the geo database places in RU


@contextmanager
def _serve(database_url: str, tmp_path: Path, trusted: str) -> Iterator[httpx.Client]:
    env = {"CALLPATH_SIP_ALLOW": f"{EDGE}/32", "CALLPATH_TRUSTED_PROXIES": trusted}
    name = f"serve-{trusted or 'none'}".replace("/", "_")
    with (
        ServerProcess(database_url, free_port(), tmp_path / f"{name}.log", env=env) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def _route(client: httpx.Client, site: Seeded, integration: tuple[str, str]) -> httpx.Response:
    return client.get(
        "/hooks/sip/route",
        params={"integration": integration[0], "to": site.pool[0], "call_id": "forged-1"},
        headers={AUTH_HEADER: integration[1], "X-Forwarded-For": EDGE},
    )


def _country(engine: Engine, client: httpx.Client, site: Seeded) -> str | None:
    r = client.post(
        "/t/v1/session",
        content=f'{{"site": "{site.key}", "url": "https://shop.example/"}}',
        headers={"Content-Type": "text/plain", "X-Forwarded-For": MOSCOW},
    )
    assert r.status_code == 200, r.text
    with engine.connect() as conn:
        query = select(sessions.c.country).where(sessions.c.id == r.json()["session"])
        country: str | None = conn.execute(query).scalar()
    return country


def test_forwarded_for_from_loopback_counts_only_when_loopback_is_a_trusted_proxy(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=2)
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "sip", "edge", time.time()
        )
    integration = (made.id, made.secret)
    with _serve(database_url, tmp_path, "") as client:
        refused = _route(client, site, integration)
        assert refused.status_code == 403, refused.text
        assert "CALLPATH_SIP_ALLOW" in refused.json()["error"]
        assert _country(engine, client, site) is None  # the peer is loopback: no country
    # The same requests through a configured proxy: the header is the client's address.
    with _serve(database_url, tmp_path, "127.0.0.1/32") as client:
        assert _route(client, site, integration).status_code == 200
        assert _country(engine, client, site) == "RU"
