"""Calls always get through: with PostgreSQL killed mid-run, `started` is still answered
with the right destination (from the route cache, even after a restart), every event is
kept on disk, and all of it reaches the database once it is back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.services import setup
from callpath.services.spool import Spool
from callpath.storage.db import make_engine, transaction
from callpath.storage.migrate import upgrade
from callpath.storage.tables import call_events, calls
from tests.helpers import (
    OWN_CLUSTER,
    Hook,
    PgCluster,
    Seeded,
    ServerProcess,
    add_hook,
    free_port,
    iso,
    seed_site,
    wait_for,
)

pytestmark = OWN_CLUSTER
OWN_DESTINATION = "+74951234567"


@pytest.fixture
def cluster() -> Iterator[PgCluster]:
    pg = PgCluster()
    pg.start()
    yield pg
    pg.remove()


def _events(call_id: str, to: str, start: float) -> list[dict[str, Any]]:
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    return [
        {**base, "event": "started", "at": iso(start)},
        {**base, "event": "answered", "at": iso(start + 4)},
        {**base, "event": "ended", "at": iso(start + 64), "talk": 60, "status": "answered"},
    ]


def _setup(engine: Engine) -> tuple[Seeded, Hook, str]:
    site = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        setup.add_number(
            conn,
            site.account_id,
            site.site_id,
            setup.NumberInput(
                number="+74957770001", kind="static", label="Radio", forward_to=OWN_DESTINATION
            ),
            time.time(),
        )
    return site, add_hook(engine, site), "+74957770001"


def test_calls_are_routed_and_kept_while_the_database_is_down(
    cluster: PgCluster, tmp_path: Path
) -> None:
    upgrade(cluster.url)
    engine = make_engine(cluster.url)
    site, hook, radio = _setup(engine)
    env = {"CALLPATH_ROUTE_REFRESH_SECONDS": "1", "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    spool = tmp_path / "spool"
    port = free_port()
    with ServerProcess(cluster.url, port, tmp_path / "server.log", env=env) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        visit = client.post(
            "/t/v1/session",
            content=json.dumps(
                {"site": site.key, "url": "https://shop.example/?utm_source=yandex&utm_medium=cpc"}
            ),
        ).json()
        wait_for(lambda: (spool / "routes.json").is_file())
        engine.dispose()
        cluster.kill()

        replies = [hook.post(client, e) for e in _events("down-1", visit["number"], time.time())]
        # Answered from the cache (how fast is test_database_hung.py's business, which
        # proves it without a clock), every event spooled for later.
        assert [r.status_code for r in replies] == [200, 200, 200], replies[0].text
        assert replies[0].json()["forward_to"] == site.original
        wait_for(lambda: Spool(spool).pending() == 3)  # a drain may hold one a moment
        assert (
            client.post(
                "/t/v1/session",
                content=json.dumps({"site": site.key, "url": "https://shop.example/"}),
            ).status_code
            == 503
        )

    # a restart while the database is still away routes from the saved map
    with ServerProcess(
        cluster.url, port, tmp_path / "server2.log", env=env, healthy=False
    ) as server:
        client = httpx.Client(base_url=server.url, timeout=10)
        own = [hook.post(client, e) for e in _events("down-2", radio, time.time())]
        assert [r.status_code for r in own] == [200, 200, 200]
        assert own[0].json()["forward_to"] == OWN_DESTINATION
        redelivered = hook.post(
            client,
            _events("down-2", radio, 0)[0] | {"at": json.loads(own[0].request.content)["at"]},
        )
        assert redelivered.json() == own[0].json()
        assert len(list(spool.glob("*.event"))) == 7  # every delivery kept, retry included

        cluster.start()
        rows = wait_for(lambda: _ended_calls(cluster.url, 2), seconds=30)
    assert list(spool.glob("*.event")) == []
    by_call = {r["provider_call_id"]: r for r in rows}
    outage = by_call["down-1"]
    assert (outage["status"], outage["talk"], outage["match_method"]) == ("answered", 60, "pool")
    assert outage["session_id"] == visit["session"]
    assert by_call["down-2"]["match_method"] == "static"
    assert by_call["down-2"]["forward_to"] == OWN_DESTINATION
    check = make_engine(cluster.url)
    with check.connect() as conn:
        assert len(conn.execute(select(call_events.c.id)).all()) == 6  # the retry deduplicated
    check.dispose()


def _ended_calls(url: str, n: int) -> list[dict[str, Any]] | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = [
                dict(r._mapping)
                for r in conn.execute(select(calls).where(calls.c.state == "ended"))
            ]
    except Exception:
        return None
    finally:
        engine.dispose()
    return rows if len(rows) >= n else None
