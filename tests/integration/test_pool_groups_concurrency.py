"""Sub-pools stay atomic across worker processes: 200 concurrent starts, half of them
from the group's channel, against 10 grouped and 10 ungrouped numbers."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from callpath.services import setup
from callpath.storage.db import transaction
from tests.helpers import ServerProcess, free_port, next_number, run_async, seed_site
from tests.integration.test_pool_concurrency import _overlaps

pytestmark = pytest.mark.slow
PER_SIDE = 10
REQUESTS = 100  # of each channel
YANDEX = "https://shop.example/?utm_source=yandex&utm_medium=cpc"
ORGANIC = "https://shop.example/?utm_source=google&utm_medium=organic"


async def _fire(url: str, key: str) -> list[tuple[str, dict[str, object]]]:
    landings = [YANDEX, ORGANIC] * REQUESTS
    limits = httpx.Limits(max_connections=len(landings))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def start(i: int, landing: str) -> tuple[str, dict[str, object]]:
            body = {"site": key, "visitor": None, "url": landing}
            # Each visitor from an address of its own: one client holds only a share.
            headers = {"X-Forwarded-For": f"198.18.0.{i + 1}"}
            r = await client.post("/t/v1/session", content=json.dumps(body), headers=headers)
            assert r.status_code == 200, r.text
            return landing, r.json()

        return list(await asyncio.gather(*(start(i, x) for i, x in enumerate(landings))))


def test_concurrent_starts_keep_the_group_for_its_channel(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=PER_SIDE)
    grouped = [next_number() for _ in range(PER_SIDE)]
    with transaction(engine) as conn:
        for number in grouped:
            data = setup.NumberInput(number=number, kind="pool", pool_group="yandex/cpc")
            setup.add_number(conn, site.account_id, site.site_id, data, time.time())
    behind_proxy = {"CALLPATH_TRUSTED_PROXIES": "127.0.0.1/32"}
    with ServerProcess(
        database_url, free_port(), tmp_path / "log", workers=2, env=behind_proxy
    ) as server:
        replies = run_async(_fire(server.url, site.key))

    assert _overlaps(engine) == []
    holders: dict[object, set[object]] = defaultdict(set)
    for landing, reply in replies:
        number = reply["number"]
        assert number in [*site.pool, *grouped, site.default]
        if number in grouped:
            assert landing == YANDEX, "a group's number went to another channel"
        if number != site.default:
            holders[number].add(reply["visitor"])
    assert all(len(v) == 1 for v in holders.values()), "a pool number went to two visitors"
    assert set(holders) == {*site.pool, *grouped}  # demand exceeded both parts
