"""The durable spool and the route cache snapshot (both plain files)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from callpath.services.calls import Integration
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool

INTEG = Integration("int_1", 1, 1, "generic", "secret", True, "+74951096375", "RU")


def test_spooled_records_come_back_once_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.put({"n": i})
    assert spool.pending() == 3
    seen = []
    for path, record in spool.claim():
        seen.append(record["n"])
        spool.done(path)
    assert seen == [0, 1, 2]
    assert spool.pending() == 0
    assert list(spool.claim()) == []


def test_a_released_record_is_offered_again(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put({"n": 1})
    path, _ = next(iter(spool.claim()))
    spool.release(path)
    assert [r for _, r in spool.claim()] == [{"n": 1}]


def test_a_claim_left_by_a_dead_worker_is_taken_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path, stale_after=60)
    spool.put({"n": 1})
    path, _ = next(iter(spool.claim()))  # claimed, never finished
    assert list(Spool(tmp_path, stale_after=60).claim()) == []
    old = time.time() - 120
    os.utime(path, (old, old))
    assert [r for _, r in Spool(tmp_path, stale_after=60).claim()] == [{"n": 1}]


def test_a_broken_file_is_set_aside(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "0-bad.event").write_text("{not json")
    spool.put({"n": 2})
    assert [r for _, r in spool.claim()] == [{"n": 2}]
    assert list(tmp_path.glob("*.broken"))


def test_route_snapshot_restores_routes_and_is_private(tmp_path: Path) -> None:
    snapshot = tmp_path / "routes.json"
    cache = RouteCache(snapshot)
    cache._integrations = {INTEG.id: INTEG}
    cache._numbers = {
        "+74951112231": {
            "account_id": 1,
            "forward_to": "+74950000001",
            "active": True,
            "default_destination": "+74951096375",
        },
        "+74951112232": {
            "account_id": 2,
            "forward_to": "+74950000002",
            "active": True,
            "default_destination": None,
        },
    }
    cache._save()
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    restored = RouteCache(snapshot)
    assert restored.load_snapshot()
    assert restored.integration("int_1") == INTEG
    assert restored.forward_to(INTEG, "+74951112231") == "+74950000001"
    # another account's number is not routed by this integration: its site default is
    assert restored.forward_to(INTEG, "+74951112232") == "+74951096375"
    assert restored.forward_to(INTEG, None) == "+74951096375"


def test_a_missing_or_broken_snapshot_loads_nothing(tmp_path: Path) -> None:
    assert not RouteCache(tmp_path / "none.json").load_snapshot()
    (tmp_path / "bad.json").write_text("[]")
    cache = RouteCache(tmp_path / "bad.json")
    assert not cache.load_snapshot()
    assert not cache.loaded
