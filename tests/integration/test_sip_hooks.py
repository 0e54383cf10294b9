"""`/hooks/sip/route` and `/hooks/sip/event` over HTTP: who may call, what they answer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.storage.db import transaction
from callpath.storage.tables import call_events, calls
from callpath.telephony.sip.adapter import AUTH_HEADER
from callpath.web.app import create_app
from tests.helpers import Seeded


def _client(database_url: str, tmp_path: Path, host: str, **env: str) -> TestClient:
    settings = settings_mod.load(
        {
            "CALLPATH_DATABASE_URL": database_url,
            "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
            **env,
        }
    )
    return TestClient(create_app(settings), client=(host, 40000), raise_server_exceptions=False)


@pytest.fixture
def sip(engine: Engine, site: Seeded) -> tuple[str, str]:
    with transaction(engine) as conn:
        made = setup.create_integration(conn, site.account_id, site.site_id, "sip", "t", 1.0)
    return made.id, made.secret


def _route(
    client: TestClient, integration: str, secret: str | None, to: str, call_id: str
) -> httpx.Response:
    headers = {AUTH_HEADER: secret} if secret else {}
    params = {"integration": integration, "to": to, "from": "79161234567", "call_id": call_id}
    return client.get("/hooks/sip/route", params=params, headers=headers)


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_route_answers_the_destination_as_plain_text(
    engine: Engine, database_url: str, tmp_path: Path, site: Seeded, sip: tuple[str, str]
) -> None:
    with _client(database_url, tmp_path, "127.0.0.1") as client:
        r = _route(client, *sip, site.pool[0].lstrip("+"), "a@b")
        assert (r.status_code, r.text) == (200, site.original)
        assert r.headers["content-type"].startswith("text/plain")
        again = _route(client, *sip, site.pool[0], "a@b")  # retransmitted INVITE
        assert again.text == site.original
        unknown = _route(client, *sip, "+74950000099", "c@d")
        assert unknown.status_code == 404
        assert _route(client, *sip, "anonymous", "e@f").status_code == 404
    assert _count(engine, call_events) == 1


def test_wrong_or_missing_secret_and_other_kinds_are_refused(
    engine: Engine, database_url: str, tmp_path: Path, site: Seeded, sip: tuple[str, str]
) -> None:
    with transaction(engine) as conn:
        generic = setup.create_integration(conn, site.account_id, site.site_id, "generic", "g", 1.0)
    with _client(database_url, tmp_path, "127.0.0.1") as client:
        assert _route(client, sip[0], "nope", site.pool[0], "x").status_code == 401
        assert _route(client, sip[0], None, site.pool[0], "x").status_code == 401
        assert _route(client, generic.id, generic.secret, site.pool[0], "x").status_code == 401
        body = json.dumps({"event": "ended", "call_id": "x"})
        r = client.post(
            "/hooks/sip/event",
            params={"integration": sip[0]},
            content=body,
            headers={AUTH_HEADER: "nope"},
        )
        assert r.status_code == 401
    assert _count(engine, call_events) == 0


def test_only_allowed_networks_may_call(
    engine: Engine, database_url: str, tmp_path: Path, site: Seeded, sip: tuple[str, str]
) -> None:
    with _client(database_url, tmp_path, "192.0.2.7") as client:
        r = _route(client, *sip, site.pool[0], "x")
        assert r.status_code == 403
        assert "CALLPATH_SIP_ALLOW" in r.json()["error"]
        forged = client.get(
            "/hooks/sip/route",
            headers={"X-Forwarded-For": "127.0.0.1"},
            params={"integration": sip[0], "to": site.pool[0], "call_id": "x"},
        )
        assert forged.status_code == 403  # not a trusted proxy: the header is ignored
    allowed = {"CALLPATH_SIP_ALLOW": "192.0.2.0/24"}
    with _client(database_url, tmp_path, "192.0.2.7", **allowed) as client:
        assert _route(client, *sip, site.pool[0], "x").status_code == 200
    with pytest.raises(settings_mod.SettingsError, match="CALLPATH_SIP_ALLOW"):
        settings_mod.load({"CALLPATH_SIP_ALLOW": "loopback"})


def test_reports_fold_into_the_call(
    engine: Engine, database_url: str, tmp_path: Path, site: Seeded, sip: tuple[str, str]
) -> None:
    now = time.time()
    with _client(database_url, tmp_path, "::1") as client:
        assert _route(client, *sip, site.pool[0], "call-1").status_code == 200
        for report in (
            {"event": "ended", "call_id": "call-1", "at": now + 40},  # out of order
            {"event": "answered", "call_id": "call-1", "at": now + 10},
            {"event": "answered", "call_id": "call-1", "at": now + 10.5},  # 200 OK resent
        ):
            r = client.post(
                "/hooks/sip/event",
                params={"integration": sip[0]},
                content=json.dumps(report),
                headers={AUTH_HEADER: sip[1]},
            )
            assert r.status_code == 200, r.text
        bad = client.post(
            "/hooks/sip/event",
            params={"integration": sip[0]},
            content=b'{"event":"hold"}',
            headers={AUTH_HEADER: sip[1]},
        )
        assert bad.status_code == 400
    with engine.connect() as conn:
        row = conn.execute(select(calls)).one()._mapping
    assert (row["status"], row["state"], row["talk"]) == ("answered", "ended", 30)
    assert _count(engine, call_events) == 3
