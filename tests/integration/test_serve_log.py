"""`callpath serve` says when it listens (after its start-up), then one line per request:
method, path without the query, status, milliseconds; as JSON lines on request. The
tracker's successful answers are left out unless CALLPATH_ACCESS_LOG=all."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from callpath import settings
from tests.helpers import ServerProcess, free_port, seed_site, wait_for


def _lines(log: Path, needle: str) -> list[str]:
    return [line for line in log.read_text().splitlines() if needle in line]


def test_serve_says_when_it_listens_and_logs_each_request(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=1)
    log = tmp_path / "serve.log"
    with ServerProcess(database_url, free_port(), log) as server:
        listening = _lines(log, "callpath is listening on")
        assert listening == [
            line for line in listening if line.endswith(f"listening on {server.url}")
        ]
        assert len(listening) == 1
        assert "Uvicorn" not in log.read_text()
        httpx.get(f"{server.url}/api/v1/sites?cursor=s3cret", timeout=10)
        httpx.get(f"{server.url}/t/{site.key}.js", timeout=10)
        httpx.get(f"{server.url}/t/nosuchkey.js", timeout=10)
        line = wait_for(lambda: _lines(log, "GET /api/v1/sites"))[0]
        assert " 401 " in line and line.endswith(" ms")
        assert "s3cret" not in log.read_text()
        wait_for(lambda: _lines(log, "GET /t/nosuchkey.js 404"))
        assert not _lines(log, f"/t/{site.key}.js")  # the tracker's success: not logged


def test_log_json_writes_one_object_a_line(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    seed_site(engine, pool_size=1)
    log = tmp_path / "serve.log"
    env = {"CALLPATH_LOG_JSON": "1", "CALLPATH_ACCESS_LOG": "all"}
    with ServerProcess(database_url, free_port(), log, env=env) as server:
        httpx.get(f"{server.url}/app/login?next=x", timeout=10)
        line = wait_for(lambda: _lines(log, '"/app/login"'))[0]
        record = json.loads(line)
        assert (record["method"], record["path"], record["status"]) == ("GET", "/app/login", 200)
        assert isinstance(record["ms"], float) and record["logger"] == "callpath.access"
        first = json.loads(_lines(log, "callpath is listening")[0])
        assert first["message"] == f"callpath is listening on {server.url}"


@pytest.mark.parametrize("value", ["loud", "1"])
def test_a_bad_access_log_setting_is_refused(value: str) -> None:
    with pytest.raises(settings.SettingsError, match="CALLPATH_ACCESS_LOG"):
        settings.load({"CALLPATH_ACCESS_LOG": value})
