"""Calls handed to Yandex Metrica, GA4 and Meta as they happen, through the real outbox
(hooks → folding → leads → the delivery worker) into local servers that implement the
platforms' documented endpoints: the exact columns and fields, a call never uploaded
twice to Metrica or GA4 (which cannot tell a repeat) even when an answer is lost,
refusals, and the setup's checks."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath.integrations import platforms
from callpath.integrations.http import Client
from callpath.services import calls as calls_service
from callpath.services import deals
from callpath.services import leads as leads_service
from callpath.services.site_input import SetupError
from callpath.storage.db import transaction
from callpath.storage.tables import deliveries, remote_links
from callpath.workers.delivery import Deliverer
from tests.fakes.platforms import Platforms
from tests.helpers import Hook, Seeded, free_port, iso

YM, GA, FBCLID = "1710773740560773740", "8560773740.1710773740", "IwAR2abc_DEF-9"
PHONE = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/131.0 Mobile Safari/537.36"
)
LANDING = f"https://shop.example/sale?utm_source=yandex&utm_medium=cpc&yclid=777&fbclid={FBCLID}"


@pytest.fixture
def fake() -> Any:
    found = Platforms(free_port()).start()
    yield found
    found.stop()


@pytest.fixture
def http() -> Any:
    made = Client()
    yield made
    made.close()


def _visit(client: TestClient, site: Seeded) -> dict[str, Any]:
    body = {"site": site.key, "url": LANDING, "ga": f"GA1.1.{GA}", "ym": YM}
    answer = client.post("/t/v1/session", content=json.dumps(body), headers={"User-Agent": PHONE})
    assert answer.status_code == 200, answer.text
    visit: dict[str, Any] = answer.json()
    assert visit["number"] in site.pool, visit
    return visit


def _call(client: TestClient, hook: Hook, call_id: str, to: str, talk: int = 50) -> None:
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    start = time.time()
    for event in (
        {**base, "event": "started", "at": iso(start)},
        {**base, "event": "answered", "at": iso(start + 4)},
        {**base, "event": "ended", "at": iso(start + 4 + talk), "talk": talk, "status": "answered"},
    ):
        assert hook.post(client, event).status_code == 200


def _settle(engine: Engine) -> None:
    """What `serve`'s apply process does after the answers: fold, then classify."""
    calls_service.apply_pending(engine, time.time, older_than=-1)
    leads_service.classify_due(engine, time.time)


def _deliver(engine: Engine, http: Client) -> None:
    """Rounds until nothing is due within a second (retries wait 50 ms here)."""
    worker = Deliverer(engine, time.time, http, first_retry=0.05)
    for _ in range(50):
        worker.round()
        with engine.connect() as conn:
            soon = conn.execute(
                select(deliveries.c.id).where(
                    deliveries.c.state == "pending", deliveries.c.next_at < time.time() + 1
                )
            ).first()
        if soon is None:
            break
        time.sleep(0.06)
    worker.close()


def _connect_all(engine: Engine, site: Seeded, url: str) -> dict[str, int]:
    now = time.time()
    with transaction(engine) as conn:
        made = {
            "metrica": platforms.add_metrica(
                conn, site.account_id, site.site_id, "4455667", "tok-1", now,
                deal_goal="deal_won", api_url=url, allow_private=True,
            ),
            "ga4": platforms.add_ga4(
                conn, site.account_id, site.site_id, "G-ABC123XYZ", "mp-secret", now,
                api_url=url, allow_private=True,
            ),
            "meta": platforms.add_meta(
                conn, site.account_id, site.site_id, "123456789012", "tok-1", now,
                api_url=url + "/v21.0", allow_private=True,
            ),
        }  # fmt: skip
    return {k: int(v.destination["id"]) for k, v in made.items()}


def test_an_ended_call_reaches_each_platform_once_with_the_documented_fields(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, fake: Platforms, http: Client
) -> None:
    _connect_all(engine, site, fake.url)
    visit = _visit(client, site)
    _call(client, hook, "pbx-1", visit["number"])
    _settle(engine)
    _deliver(engine, http)
    leads_service.classify_due(engine, time.time)  # nothing new: nothing more is sent
    _deliver(engine, http)

    (upload,) = fake.calls_files
    rows = list(csv.reader(io.StringIO(upload)))
    assert rows[0] == [
        "ClientId", "DateTime", "PhoneNumber", "StaticCall", "Price", "Currency",
        "TalkDuration", "HoldDuration", "CallMissed", "Tag", "FirstTimeCaller", "URL",
        "CallTrackerURL",
    ]  # fmt: skip
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["ClientId"] == YM and row["PhoneNumber"] == "+79161234567"
    assert row["StaticCall"] == "0" and row["CallMissed"] == "0" and row["TalkDuration"] == "50"
    assert row["Tag"] == "target" and row["FirstTimeCaller"] == "1"
    assert abs(int(row["DateTime"]) - time.time()) < 60
    assert row["URL"] == LANDING

    (ga,) = fake.ga_events
    assert ga["client_id"] == GA and ga["events"][0]["name"] == "phone_call"
    params = ga["events"][0]["params"]
    assert params["talk_seconds"] == 50 and params["target"] == 1
    assert params["call_source"] == "yandex" and params["call_medium"] == "cpc"
    assert all(len(k) <= 40 for k in params) and len(params) <= 25

    (meta,) = fake.meta_events
    assert meta["action_source"] == "phone_call" and meta["event_name"] == "Lead"
    assert meta["user_data"]["ph"] == [hashlib.sha256(b"79161234567").hexdigest()]
    assert meta["user_data"]["fbc"].startswith("fb.1.") and meta["user_data"]["fbc"].endswith(
        FBCLID
    )
    assert meta["event_id"] == meta["event_id"].strip() and meta["event_id"].startswith("c")


def test_a_won_deal_goes_to_metrica_as_an_offline_conversion_once(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, fake: Platforms, http: Client
) -> None:
    _connect_all(engine, site, fake.url)
    visit = _visit(client, site)
    _call(client, hook, "pbx-2", visit["number"])
    _settle(engine)
    with engine.connect() as conn:
        call_id = conn.execute(select(remote_links.c.call_id)).scalar()
    _deliver(engine, http)
    call_id = call_id or _only_call(engine)
    deal = deals.DealInput(amount="15000", status="won", external_id="crm-9", call_id=call_id)
    with transaction(engine) as conn:
        deals.record(conn, site.account_id, deal, time.time())
    with transaction(engine) as conn:  # the CRM sends it again, a new title: no new upload
        again = dataclasses.replace(deal, title="Renamed")
        deals.record(conn, site.account_id, again, time.time())
    _deliver(engine, http)
    (conversion,) = fake.conversion_files
    rows = list(csv.reader(io.StringIO(conversion)))
    assert rows[0] == ["ClientId", "Target", "DateTime", "Price", "Currency"]
    assert rows[1][0] == YM and rows[1][1] == "deal_won" and rows[1][3:] == ["15000.00", "RUB"]


def _only_call(engine: Engine) -> str:
    from callpath.storage.tables import calls

    with engine.connect() as conn:
        return str(conn.execute(select(calls.c.id)).scalar_one())


def test_an_upload_whose_answer_was_lost_is_never_sent_again_by_itself(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, fake: Platforms, http: Client
) -> None:
    with transaction(engine) as conn:
        dest = platforms.add_metrica(
            conn, site.account_id, site.site_id, "4455667", "tok-1", time.time(),
            api_url=fake.url, allow_private=True,
        ).destination["id"]  # fmt: skip
    fake.fail_with = ["drop"]  # Metrica read the file, the answer never came back
    visit = _visit(client, site)
    _call(client, hook, "pbx-3", visit["number"])
    _settle(engine)
    _deliver(engine, http)
    assert fake.calls_files == []  # the fake dropped it: it did not keep the file either
    with engine.connect() as conn:
        states = {s for (s,) in conn.execute(select(deliveries.c.state))}
    assert states == {"failed"}  # not retried: it might have counted
    with transaction(engine) as conn:  # the user checked Metrica and replays it
        from callpath.integrations import destinations

        (row,) = [
            r for r in destinations.log(conn, site.account_id, int(dest)) if r["state"] == "failed"
        ]
        assert "may have arrived" in row["last_error"]
        destinations.replay_one(conn, site.account_id, int(row["id"]), time.time())
    _deliver(engine, http)
    assert len(fake.calls_files) == 1


def test_a_refusal_is_not_retried_and_a_server_error_is(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, fake: Platforms, http: Client
) -> None:
    with transaction(engine) as conn:
        platforms.add_metrica(
            conn, site.account_id, site.site_id, "4455667", "wrong-token", time.time(),
            api_url=fake.url, allow_private=True,
        )  # fmt: skip
        platforms.add_ga4(
            conn, site.account_id, site.site_id, "G-ABC123XYZ", "mp-secret", time.time(),
            api_url=fake.url, allow_private=True,
        )  # fmt: skip
    fake.fail_with = [503]  # the first request (one of the two) meets a busy server
    visit = _visit(client, site)
    _call(client, hook, "pbx-4", visit["number"])
    _settle(engine)
    _deliver(engine, http)
    assert fake.calls_files == [] and len(fake.ga_events) == 1
    with engine.connect() as conn:
        rows = conn.execute(select(deliveries.c.state, deliveries.c.last_error)).all()
    failed = [e for s, e in rows if s == "failed"]
    assert len(failed) == 1 and "Invalid oauth_token" in failed[0]


def test_setup_checks_ids_tokens_and_addresses(engine: Engine, site: Seeded) -> None:
    now = time.time()
    with transaction(engine) as conn:
        for bad in (
            lambda: platforms.add_metrica(conn, site.account_id, site.site_id, "12a", "t", now),
            lambda: platforms.add_metrica(
                conn, site.account_id, site.site_id, "12", "t", now, id_kind="email"
            ),
            lambda: platforms.add_metrica(conn, site.account_id, site.site_id, "12", " ", now),
            lambda: platforms.add_ga4(conn, site.account_id, site.site_id, "UA-1", "s", now),
            lambda: platforms.add_meta(conn, site.account_id, site.site_id, "pixel", "t", now),
            lambda: platforms.add_ga4(
                conn,
                site.account_id,
                site.site_id,
                "G-ABC123",
                "s",
                now,
                api_url="http://10.0.0.5/collect",
            ),
        ):
            with pytest.raises(SetupError):
                bad()


def test_connect_commands_refuse_bad_input_with_one_line(
    engine: Engine, database_url: str, site: Seeded
) -> None:
    env = {"CALLPATH_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "callpath", *args], capture_output=True, text=True, env=env,
            timeout=120, check=False,
        )  # fmt: skip

    bad = run("metrica", "connect", "--site", site.key, "--counter", "x1", "--token", "t")
    assert bad.returncode != 0 and "counter" in bad.stderr and "Traceback" not in bad.stderr
    good = run(
        "ga4", "connect", "--site", site.key, "--measurement-id", "G-ABC123XYZ", "--api-secret", "s"
    )
    assert good.returncode == 0, good.stderr
    assert "lead.created" in good.stdout
