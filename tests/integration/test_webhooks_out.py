"""Webhooks out, end to end through `callpath serve` (its delivery process) into a local
receiver that checks the signature as docs/integrations.md tells a customer to: a call
from a visit arrives signed with its attribution; a receiver that was down gets every
event exactly once when it returns; a restart of callpath loses nothing queued."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from callpath.storage.tables import deliveries, delivery_attempts, sites, tracking_numbers
from tests.fakes.webhook_receiver import Receiver
from tests.helpers import Hook, ServerProcess, add_hook, free_port, iso, seed_site, wait_for

pytestmark = pytest.mark.slow
FAST_RETRY = {"CALLPATH_OUTBOX_RETRY_MS": "300"}


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"CALLPATH_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "callpath", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def _add_webhook(database_url: str, account: int, url: str, events: str = "all") -> tuple[int, str]:
    done = _cli(
        database_url,
        "webhook", "add", "--account", str(account), "--url", url, "--events", events,
        "--allow-private",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0].split()
    secret = next(line for line in done.stdout.splitlines() if line.startswith("secret:"))
    return int(first[1]), secret.split()[1]


def _visit(client: httpx.Client, key: str) -> dict[str, Any]:
    url = (
        "https://shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=winter&gclid=G-42"
    )
    answer = client.post(
        "/t/v1/session",
        content=json.dumps({"site": key, "url": url, "referrer": "https://www.google.com/"}),
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    visit: dict[str, Any] = answer.json()
    return visit


def _call(client: httpx.Client, hook: Hook, call_id: str, to: str, talk: int = 40) -> None:
    base = {"call_id": call_id, "caller": "+79161234567", "called": to}
    now = time.time()
    for event in (
        {**base, "event": "started", "at": iso(now)},
        {**base, "event": "answered", "at": iso(now + 3)},
        {**base, "event": "ended", "at": iso(now + 3 + talk), "talk": talk, "status": "answered"},
    ):
        assert hook.post(client, event).status_code == 200


def test_a_call_from_a_visit_arrives_signed_with_its_attribution(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=3)
    hook = add_hook(engine, site)
    receiver = Receiver(free_port()).start()
    try:
        _dest, receiver.secret = _add_webhook(database_url, site.account_id, receiver.url)
        with (
            ServerProcess(database_url, free_port(), tmp_path / "serve.log") as server,
            httpx.Client(base_url=server.url, timeout=30) as client,
        ):
            visit = _visit(client, site.key)
            _call(client, hook, "pbx-1", visit["number"])
            wait_for(lambda: receiver.of_type("lead.created"), 60)
            matched = wait_for(lambda: receiver.of_type("call.matched"), 30)[0]
    finally:
        receiver.stop()
    assert receiver.refused == []
    kinds = [e["type"] for e in receiver.events]
    assert {"call.started", "call.ended", "call.matched", "lead.created"} <= set(kinds)
    assert len(kinds) == len(set(receiver.ids()))  # each event once
    data = matched["data"]
    assert data["call"]["caller"] == "+79161234567"
    assert data["call"]["tracking_number"] == visit["number"]
    assert data["call"]["talk"] == 40
    attribution = data["attribution"]
    assert attribution["method"] == "pool" and attribution["confidence"] > 0.5
    assert attribution["channel"]["source"] == "google"
    assert attribution["channel"]["medium"] == "cpc"
    session = attribution["session"]
    assert session["id"] == visit["session"]
    assert session["click_ids"] == {"gclid": "G-42"}
    assert session["utm"]["campaign"] == "winter" and session["campaign"] == "winter"
    assert session["landing_url"].startswith("https://shop.example/sale")
    lead = receiver.of_type("lead.created")[0]["data"]
    assert lead["lead"]["first_time"] is True and lead["lead"]["target"] is True
    assert lead["attribution"]["session"]["id"] == visit["session"]
    assert matched["site_id"] == site.site_id and matched["account_id"] == site.account_id


def test_a_receiver_that_was_down_gets_every_event_once_and_a_restart_loses_nothing(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    site = seed_site(engine, pool_size=2, statics=("flyer",))
    hook = add_hook(engine, site)
    receiver = Receiver(free_port())
    dest, receiver.secret = _add_webhook(
        database_url, site.account_id, receiver.url, "call.started,call.ended"
    )
    receiver.start()
    log = tmp_path / "serve.log"
    with (
        ServerProcess(database_url, free_port(), log, env=FAST_RETRY) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        for n in range(3):
            _call(client, hook, f"up-{n}", site.static["flyer"])
        wait_for(lambda: len(receiver.events) == 6, 60)
        receiver.stop()  # the receiver goes down mid-stream
        for n in range(3):
            _call(client, hook, f"down-{n}", site.static["flyer"])
        wait_for(lambda: _failed_attempts(engine, dest) >= 2, 60)
        # callpath is stopped too while the receiver is away: the queue is in the database
    _call_offline_check(engine, dest)
    with ServerProcess(database_url, free_port(), log, env=FAST_RETRY) as server:
        receiver.start()
        wait_for(lambda: len(receiver.events) >= 12, 90)
        time.sleep(1.0)  # a duplicate, if one were sent, would have come by now
    receiver.stop()
    ids = receiver.ids()
    assert len(ids) == 12 and len(set(ids)) == 12, ids
    calls = {e["data"]["call"]["id"] for e in receiver.events}
    assert len(calls) == 6
    with engine.connect() as conn:
        states = conn.execute(select(deliveries.c.state).where(deliveries.c.destination_id == dest))
        assert {s for (s,) in states} == {"delivered"}


def _failed_attempts(engine: Engine, dest: int) -> int:
    query = (
        select(delivery_attempts.c.id)
        .join(deliveries, deliveries.c.id == delivery_attempts.c.delivery_id)
        .where(deliveries.c.destination_id == dest, delivery_attempts.c.ok.is_(False))
    )
    with engine.connect() as conn:
        return len(conn.execute(query).all())


def _call_offline_check(engine: Engine, dest: int) -> None:
    """While everything is stopped, the undelivered events wait in the database."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(deliveries.c.state, deliveries.c.last_error).where(
                deliveries.c.destination_id == dest, deliveries.c.state != "delivered"
            )
        ).all()
    assert len(rows) == 6, rows
    assert {state for state, _error in rows} == {"pending"}
    assert any(error for _state, error in rows)  # the attempts that failed say why


def test_webhook_cli_refuses_private_targets_and_unknown_events(
    engine: Engine, database_url: str
) -> None:
    site = seed_site(engine, pool_size=1)
    account = str(site.account_id)
    refused = _cli(
        database_url,
        "webhook", "add", "--account", account, "--url", "http://127.0.0.1:9/x", "--events", "all",
    )  # fmt: skip
    assert refused.returncode != 0 and "private or local address" in refused.stderr
    assert "Traceback" not in refused.stderr
    metadata = _cli(
        database_url,
        "webhook", "add", "--account", account, "--url", "http://169.254.169.254/latest",
        "--events", "all",
    )  # fmt: skip
    assert metadata.returncode != 0 and "169.254.169.254" in metadata.stderr
    unknown = _cli(
        database_url,
        "webhook", "add", "--account", account, "--url", "http://127.0.0.1:9/x",
        "--events", "call.ended,call.exploded", "--allow-private",
    )  # fmt: skip
    assert unknown.returncode != 0 and "call.exploded" in unknown.stderr
    nobody = _cli(
        database_url,
        "webhook", "add", "--account", "999999", "--url", "http://127.0.0.1:9/x",
        "--events", "all", "--allow-private",
    )  # fmt: skip
    assert nobody.returncode != 0 and "no account" in nobody.stderr
    listed = _cli(database_url, "webhook", "list", "--account", account)
    assert listed.returncode == 0 and "no webhooks or other destinations" in listed.stdout


def test_a_simulated_call_on_the_demo_reaches_a_receiver_that_was_down(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """The issue's own check, as a new user would try it: `callpath demo`, a webhook, the
    receiver down, `callpath call simulate` on a static number of the demo; when the
    receiver comes back it gets the call, signed, with the number's channel."""
    assert _cli(database_url, "demo").returncode == 0
    with engine.connect() as conn:
        site = conn.execute(
            select(sites.c.id, sites.c.account_id).where(sites.c.key == "demo")
        ).one()
        flyer = conn.execute(
            select(tracking_numbers.c.e164, tracking_numbers.c.channel_source).where(
                tracking_numbers.c.site_id == site.id, tracking_numbers.c.kind == "static"
            )
        ).first()
    assert flyer is not None
    receiver = Receiver(free_port())
    _dest, receiver.secret = _add_webhook(database_url, site.account_id, receiver.url, "call.ended")
    with ServerProcess(database_url, free_port(), tmp_path / "serve.log", env=FAST_RETRY) as server:
        done = _cli(database_url, "call", "simulate", "--to", flyer.e164, "--server", server.url)
        assert done.returncode == 0, done.stderr
        call_id = done.stdout.split()[1]
        wait_for(lambda: _failed_attempts(engine, _dest) >= 1, 60)  # the receiver is down
        receiver.start()
        try:
            (event,) = wait_for(lambda: receiver.of_type("call.ended"), 60)
        finally:
            receiver.stop()
    assert receiver.refused == []
    data = event["data"]
    assert data["call"]["id"] == call_id and data["call"]["tracking_number"] == flyer.e164
    assert data["attribution"]["method"] == "static"
    assert data["attribution"]["channel"]["source"] == flyer.channel_source
