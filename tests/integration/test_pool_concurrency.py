"""Allocation is atomic across worker processes: 500 concurrent session starts against
a pool of 40 numbers on a two-worker server, then the reservation history is checked."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.storage.tables import reservations, session_events, tracking_numbers
from tests.helpers import ServerProcess, free_port, run_async, seed_site

pytestmark = pytest.mark.slow
POOL = 40
LONE_VISITORS = 400
SHARED_VISITORS = 20  # each opens 5 sessions at once (tabs) - 100 more requests


async def _fire(url: str, key: str) -> list[dict[str, object]]:
    visitors: list[str | None] = [None] * LONE_VISITORS
    visitors += [f"shared-visitor-{i:03d}" for i in range(SHARED_VISITORS) for _ in range(5)]
    limits = httpx.Limits(max_connections=len(visitors))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def start(i: int, visitor: str | None) -> dict[str, object]:
            body = {"site": key, "visitor": visitor, "url": "https://shop.example/"}
            # Each visitor from an address of its own (one client may hold only a share
            # of the pool), the tabs of a shared visitor from one.
            lone = visitor is None
            address = f"198.18.{i // 200}.{i % 200 + 1}" if lone else f"198.19.0.{i // 5}"
            headers = {"X-Forwarded-For": address}
            r = await client.post("/t/v1/session", content=json.dumps(body), headers=headers)
            assert r.status_code == 200, r.text
            data: dict[str, object] = r.json()
            return data

        return list(await asyncio.gather(*(start(i, v) for i, v in enumerate(visitors))))


def _overlaps(engine: Engine) -> list[tuple[int, str, str]]:
    r = reservations.c
    with engine.connect() as conn:
        rows = conn.execute(
            # Holds of one number are taken one after another under its row lock, so the
            # insert order (id) breaks ties between hand-overs stamped with the same time.
            select(r.number_id, r.session_id, r.started_at, r.until).order_by(
                r.number_id, r.started_at, r.id
            )
        ).all()
    bad = []
    by_number: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for number_id, session_id, started, until in rows:
        by_number[number_id].append((session_id, started, until))
    for number_id, spans in by_number.items():
        for (s1, _a1, until1), (s2, start2, _u2) in itertools.pairwise(spans):
            if s1 != s2 and start2 < until1:
                bad.append((number_id, s1, s2))
    return bad


def test_concurrent_starts_never_share_a_number(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=POOL)
    behind_proxy = {"CALLPATH_TRUSTED_PROXIES": "127.0.0.1/32"}
    with ServerProcess(
        database_url, free_port(), tmp_path / "log", workers=2, env=behind_proxy
    ) as server:
        replies = run_async(_fire(server.url, site.key))

    assert _overlaps(engine) == []
    holders: dict[object, set[object]] = defaultdict(set)
    for reply in replies:
        assert reply["number"] in [*site.pool, site.default]
        if reply["number"] != site.default:
            holders[reply["number"]].add(reply["visitor"])
    assert all(len(v) == 1 for v in holders.values()), "a pool number went to two visitors"
    assert len(holders) == POOL  # demand exceeded the pool, so every number was used

    with engine.connect() as conn:
        held = (
            conn.execute(
                select(tracking_numbers.c.held_visitor_id).where(tracking_numbers.c.kind == "pool")
            )
            .scalars()
            .all()
        )
        exhausted = conn.execute(
            select(session_events.c.id).where(session_events.c.kind == "pool_exhausted")
        ).all()
    assert len(set(held)) == POOL
    defaults = sum(1 for reply in replies if reply["number"] == site.default)
    assert len(exhausted) == defaults > 0
