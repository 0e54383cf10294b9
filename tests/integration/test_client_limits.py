"""One client may hold only a share of a site's pool and start sessions at a bounded pace.

The abuse case drives `callpath serve` behind a trusted proxy (X-Forwarded-For gives each
request its address); the rules of holding and releasing run on the services with a
virtual clock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select

from callpath.domain.pool import PoolSettings
from callpath.services import client_limits, tracking
from callpath.settings import ClientLimits
from callpath.storage.tables import session_events, tracking_numbers
from tests.helpers import (
    Clock,
    ServerProcess,
    add_login,
    api_headers,
    free_port,
    log_in,
    seed_site,
)

ATTACKER, VISITOR = "203.0.113.7", "198.51.100.9"


def _start(client: httpx.Client, key: str, address: str, **body: Any) -> dict[str, Any]:
    r = client.post(
        "/t/v1/session",
        content=json.dumps({"site": key, "url": "https://shop.example/", **body}),
        headers={"Content-Type": "text/plain", "X-Forwarded-For": address},
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_one_address_gets_its_share_of_the_pool_then_the_default_number(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=8)  # a client's share: max(2, 25% of 8) = 2
    env = {
        "CALLPATH_TRUSTED_PROXIES": "127.0.0.1/32",
        "CALLPATH_CLIENT_STARTS_PER_MINUTE": "1",
        "CALLPATH_CLIENT_STARTS_BURST": "5",
    }
    with (
        ServerProcess(database_url, free_port(), tmp_path / "serve.log", env=env) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        flood = [_start(client, site.key, ATTACKER) for _ in range(7)]
        # Two pool numbers, then the default number: first for holding its share, then,
        # the burst of 5 starts spent, for starting too fast.
        assert [a["reason"] for a in flood] == ["pool"] * 2 + ["client_limit"] * 3 + [
            "rate_limited"
        ] * 2
        assert {a["number"] for a in flood[:2]} <= set(site.pool)
        assert {a["number"] for a in flood[2:]} == {site.default}
        # The attacker's pings keep its two holds, and win it nothing more.
        for answer in flood[2:5]:
            r = client.post(
                "/t/v1/ping",
                content=json.dumps({"session": answer["session"]}),
                headers={"X-Forwarded-For": ATTACKER},
            )
            assert r.json()["reason"] == "client_limit"
        # Everyone else still gets pool numbers, an IPv6 /64 counting as one client.
        assert _start(client, site.key, VISITOR)["reason"] == "pool"
        six = [_start(client, site.key, f"2001:db8:5:7::{i}")["reason"] for i in (1, 2, 3)]
        assert six == ["pool", "pool", "client_limit"]
        assert _start(client, site.key, "2001:db8:5:8::1")["reason"] == "pool"
        # The pool page and the pool API count the refused starts.
        api = client.get(f"/api/v1/sites/{site.site_id}/pool", headers=api_headers(engine, site))
        assert api.json()["refused_last_24h"] == {"client_limit": 4, "rate_limited": 2}
        log_in(client, add_login(engine, site, "admin"))
        page = client.get(f"/app/sites/{site.site_id}/pool")
        assert page.status_code == 200
        assert "Last 24 hours: 6 visits were shown the default number" in page.text
        assert "pool (4)" in page.text and "too fast (2)" in page.text
    with engine.connect() as conn:
        holders = conn.execute(
            select(tracking_numbers.c.held_client).where(tracking_numbers.c.held_until > 0)
        ).scalars()
        stored = [h for h in holders if h]
        kinds = conn.execute(select(session_events.c.kind)).scalars().all()
    assert len(stored) == 6 and len(set(stored)) == 4  # 2+1+2+1 holds; 32 hex, no address
    assert all(len(h) == 32 and ATTACKER not in h for h in stored)
    assert sorted(kinds) == ["client_limit"] * 4 + ["rate_limited"] * 2


LIMITS = ClientLimits(pool_share=25, pool_min=2, starts_per_minute=0)
POOL = PoolSettings(hold_after_leave=60, cooldown=60, ping_interval=30)


def _client(address: str, limits: ClientLimits = LIMITS) -> client_limits.Client:
    key = client_limits.client_key(b"test secret", address, "")
    return client_limits.Client(key, limits)


def _visit(address: str, visitor: str | None = None, **kw: Any) -> tracking.Visit:
    return tracking.Visit(
        url="https://shop.example/", visitor=visitor, ip=address, client=_client(address), **kw
    )


def test_the_share_counts_live_holds_only(engine: Engine) -> None:
    site_row = seed_site(engine, pool_size=4, pool=POOL)
    site = _site(engine, site_row.key)
    clock = Clock()
    first = [tracking.start_session(engine, site, _visit(ATTACKER), clock) for _ in range(3)]
    assert [a.reason for a in first] == ["pool", "pool", "client_limit"]
    # A client at its share still gets its own number back in a further session.
    again = tracking.start_session(engine, site, _visit(ATTACKER, first[0].visitor), clock)
    assert (again.reason, again.number) == ("pool", first[0].number)
    clock.advance(POOL.hold_until(0) + 1)  # every hold has lapsed: nothing held now
    later = tracking.start_session(engine, site, _visit(ATTACKER), clock)
    assert later.reason == "pool"
    # A refused session tries again on its pings: one of the client's holds is free now.
    ping = tracking.ping(engine, lambda _id: site, first[2].session, clock, _client(ATTACKER))
    assert ping is not None and ping.reason == "pool"


def test_a_rate_limited_visit_keeps_the_default_number(engine: Engine) -> None:
    site_row = seed_site(engine, pool_size=4, pool=POOL)
    site = _site(engine, site_row.key)
    clock = Clock()
    slow = ClientLimits(starts_per_minute=1, starts_burst=1)
    starts = client_limits.StartLimiter(1, 1, clock)
    key = client_limits.client_key(b"test secret", ATTACKER, "")
    gate = client_limits.Client(key, slow, starts)
    visit = tracking.Visit(url="https://shop.example/", ip=ATTACKER, client=gate)
    assert tracking.start_session(engine, site, visit, clock).reason == "pool"
    limited = tracking.start_session(engine, site, visit, clock)
    assert limited.reason == "rate_limited"
    clock.advance(60)  # a token is back, but this visit stays as it was
    ping = tracking.ping(engine, lambda _id: site, limited.session, clock, gate)
    assert ping is not None and ping.reason == "rate_limited"
    assert tracking.start_session(engine, site, visit, clock).reason == "pool"


def test_a_page_that_saw_no_person_lets_its_number_go_when_it_leaves(engine: Engine) -> None:
    site_row = seed_site(engine, pool_size=1, pool=POOL)
    site = _site(engine, site_row.key)
    clock = Clock()
    crawler = tracking.start_session(engine, site, _visit(ATTACKER), clock)
    person = tracking.start_session(engine, site, _visit(VISITOR), clock)
    assert (crawler.reason, person.reason) == ("pool", "exhausted")
    assert tracking.leave(engine, lambda _id: site, crawler.session, clock, human=False)
    clock.advance(POOL.cooldown)  # the number rests a cooldown, not the whole hold
    back = tracking.ping(engine, lambda _id: site, person.session, clock, _client(VISITOR))
    assert back is not None and back.reason == "pool"


def test_a_page_with_a_person_keeps_its_number_after_it_leaves(engine: Engine) -> None:
    site_row = seed_site(engine, pool_size=1, pool=POOL)
    site = _site(engine, site_row.key)
    clock = Clock()
    person = tracking.start_session(engine, site, _visit(ATTACKER), clock)
    other = tracking.start_session(engine, site, _visit(VISITOR), clock)
    assert tracking.leave(engine, lambda _id: site, person.session, clock, human=True)
    clock.advance(POOL.cooldown)
    still = tracking.ping(engine, lambda _id: site, other.session, clock, _client(VISITOR))
    assert still is not None and still.reason == "exhausted"


def test_limits_and_keys() -> None:
    assert [client_limits.cap(LIMITS, n) for n in (0, 5, 8, 9, 100)] == [2, 2, 2, 3, 25]
    same = client_limits.subject("2001:db8::1", "v"), client_limits.subject("2001:db8::ff", "v")
    assert same == ("2001:db8::/64", "2001:db8::/64")
    assert client_limits.subject("::ffff:198.51.100.9", "v") == VISITOR
    assert client_limits.subject(None, "abc") == "visitor:abc"
    assert client_limits.client_key(b"a", VISITOR, "") != client_limits.client_key(
        b"b", VISITOR, ""
    )
    clock = Clock()
    starts = client_limits.StartLimiter(60, 2, clock)
    assert [starts.admit(1, "k") for _ in range(3)] == [True, True, False]
    assert starts.admit(2, "k")  # per site
    clock.advance(1)
    assert starts.admit(1, "k") and not starts.admit(1, "k")


def _site(engine: Engine, key: str) -> Any:
    from callpath.storage import site_repo

    with engine.connect() as conn:
        return site_repo.load_site_config(conn, key=key)
