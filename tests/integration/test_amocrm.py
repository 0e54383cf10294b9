"""amoCRM both ways against a local amoCRM that answers as documented
(tests/fakes/amocrm.py): a call from a visit becomes one lead with its contact and the
visit's tracking fields; its won stage comes back through amoCRM's webhook as a deal
linked to the call, and the channels report shows the revenue on the visit's channel.
A caller with an open lead gets a note on it instead; a lead is never made twice; a bad
token is final, a rate limit and a server error are retried; a slow amoCRM is waited
for on the next round; the webhook refuses strangers and malformed forms."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath.cli import app as cli
from callpath.integrations import destinations
from callpath.integrations.amocrm import connect as amocrm
from callpath.integrations.http import Client
from callpath.services import outbox
from callpath.storage.db import transaction
from callpath.storage.tables import deals, deliveries, remote_links
from callpath.storage.tables import destinations as destinations_table
from callpath.workers.delivery import Deliverer
from tests.fakes.amocrm import WON, FakeAmo
from tests.helpers import (
    Clock,
    Hook,
    Seeded,
    api_headers,
    classified_leads,
    free_port,
    iso,
    seed_site,
)

runner = CliRunner()
CALLER = "+79161234567"
LANDING = (
    "https://shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=winter"
    "&utm_term=boots&gclid=G-42"
)


@pytest.fixture
def fake() -> Any:
    server = FakeAmo(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Any:
    made = Client()
    yield made
    made.close()


def _connect(engine: Engine, site: Seeded, fake: FakeAmo, token: str | None = None) -> Any:
    with transaction(engine) as conn:
        return amocrm.connect(
            conn,
            site.account_id,
            fake.url,
            token or fake.token,
            time.time(),
            site_id=site.site_id,
            allow_private=True,
        )


def _visit_and_call(client: TestClient, site: Seeded, hook: Hook, call_id: str = "pbx-1") -> str:
    body = json.dumps({"site": site.key, "url": LANDING, "referrer": "https://www.google.com/"})
    visit = client.post("/t/v1/session", content=body, headers={"Content-Type": "text/plain"})
    assert visit.status_code == 200, visit.text
    base = {"call_id": call_id, "caller": CALLER, "called": visit.json()["number"]}
    now = time.time()
    for event in (
        {**base, "event": "started", "at": iso(now)},
        {**base, "event": "answered", "at": iso(now + 3)},
        {**base, "event": "ended", "at": iso(now + 63), "talk": 60, "status": "answered"},
    ):
        assert hook.post(client, event).status_code == 200
    return str(visit.json()["session"])


def _deliver(engine: Engine, http: Client, clock: Any = time.time) -> Deliverer:
    worker = Deliverer(engine, clock, http, first_retry=30.0, threads=2)
    worker.round()
    return worker


def _status_form(lead_id: int, status_id: int, price: str, pipeline: int = 1) -> bytes:
    return urlencode(
        {
            "leads[status][0][id]": str(lead_id),
            "leads[status][0][status_id]": str(status_id),
            "leads[status][0][pipeline_id]": str(pipeline),
            "leads[status][0][old_status_id]": "1",
            "leads[status][0][old_pipeline_id]": str(pipeline),
            "leads[status][0][price]": price,
            "leads[status][0][name]": "Call from +7 916 123-45-67",
            "account[id]": "29000000",
            "account[subdomain]": "shop",
        }
    ).encode()


def _post_hook(client: TestClient, made: Any, body: bytes, token: str | None = None) -> Any:
    dest = made.destination["id"]
    return client.post(
        amocrm.hook_path(dest, token or made.hook_token),
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def _states(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        query = select(deliveries.c.state, deliveries.c.attempts).order_by(deliveries.c.id)
        return [(str(s), int(a)) for s, a in conn.execute(query)]


def _deal_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(deals).order_by(deals.c.id))]


def _lead_event(
    engine: Engine, site: Seeded, call_id: str = "c-synthetic", spam: bool = False
) -> None:
    """A lead.created as the classifier writes it, for a call that needs no visit."""
    payload = {
        "lead": {"id": call_id, "call_id": call_id, "caller": CALLER, "spam": spam},
        "call": {"id": call_id, "caller": CALLER, "tracking_number": site.original, "talk": 30},
        "attribution": {"channel": {"source": "(direct)"}, "session": None},
    }
    with transaction(engine) as conn:
        outbox.emit(
            conn, site.account_id, site.site_id, "lead.created", call_id, payload, time.time()
        )


def test_a_call_becomes_one_lead_and_its_sale_comes_back_as_revenue_on_its_channel(
    engine: Engine, client: TestClient, site: Seeded, hook: Hook, fake: FakeAmo, http: Client
) -> None:
    made = _connect(engine, site, fake)
    session_id = _visit_and_call(client, site, hook)
    (call_id,) = classified_leads(engine)
    _deliver(engine, http).close()
    (sent,) = fake.got("POST", "/api/v4/leads/complex")
    assert sent.query == {}
    (lead,) = sent.body
    assert lead["name"] == "Call from +7 916 123-45-67"
    fields = {f["field_code"]: f["values"][0]["value"] for f in lead["custom_fields_values"]}
    assert fields == {
        "UTM_SOURCE": "google",
        "UTM_MEDIUM": "cpc",
        "UTM_CAMPAIGN": "winter",
        "UTM_TERM": "boots",
        "GCLID": "G-42",
        "REFERRER": "https://www.google.com/",
    }
    contact = lead["_embedded"]["contacts"][0]
    assert contact["custom_fields_values"][0]["field_code"] == "PHONE"
    assert contact["custom_fields_values"][0]["values"][0]["value"] == CALLER
    (searched,) = fake.got("GET", "/api/v4/contacts")
    assert searched.query["query"] == ["9161234567"] and searched.query["with"] == ["leads"]
    (lead_id,) = list(fake.leads)
    (note,) = fake.notes.values()
    assert note["entity_id"] == lead_id and LANDING in note["text"]
    assert _states(engine) == [("delivered", 1)]

    answer = _post_hook(client, made, _status_form(lead_id, WON, "25000"))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["deals"]) == 1 and answer.json()["ignored"] == []
    (deal,) = _deal_rows(engine)
    assert (deal["external_id"], deal["status"], deal["amount_cents"]) == (
        f"amocrm:{lead_id}",
        "won",
        2_500_000,
    )
    assert (deal["link"], deal["call_id"], deal["session_id"]) == ("call", call_id, session_id)
    again = _post_hook(client, made, _status_form(lead_id, WON, "25000"))
    assert again.status_code == 200 and len(_deal_rows(engine)) == 1  # the same deal

    today = datetime.now(UTC).date()
    period = f"from={today - timedelta(days=1)}&to={today + timedelta(days=1)}"
    report = client.get(
        f"/api/v1/reports/channels?site={site.key}&{period}",
        headers=api_headers(engine, site, "analyst"),
    )
    assert report.status_code == 200, report.text
    rows = {f"{r['source']}/{r['medium']}": r for r in report.json()["rows"]}
    assert rows["google/cpc"]["won"] == 1 and rows["google/cpc"]["revenue"] == 25000


def test_a_second_delivery_of_the_same_lead_makes_no_second_lead(
    engine: Engine, site: Seeded, fake: FakeAmo, http: Client
) -> None:
    made = _connect(engine, site, fake)
    _lead_event(engine, site)
    _deliver(engine, http).close()
    assert len(fake.got("POST", "/api/v4/leads/complex")) == 1
    with transaction(engine) as conn:
        dest = int(made.destination["id"])
        (row,) = destinations.log(conn, site.account_id, dest)
        destinations.replay_one(conn, site.account_id, row["id"], time.time())
    _deliver(engine, http).close()
    assert len(fake.got("POST", "/api/v4/leads/complex")) == 1
    assert len(fake.got("GET", "/api/v4/contacts")) == 1  # the link answered: no request
    with transaction(engine) as conn:
        (row,) = destinations.log(conn, site.account_id, dest)
    assert row["state"] == "delivered"
    assert len(fake.leads) == 1


def test_a_caller_with_an_open_lead_gets_a_note_on_it_and_its_sale_links_to_the_call(
    engine: Engine, client: TestClient, site: Seeded, hook: Hook, fake: FakeAmo, http: Client
) -> None:
    closed = fake.add_lead(WON, "Last year's order")
    open_lead = fake.add_lead(1, "Asked for a quote")
    fake.add_contact("8 (916) 123-45-67", [closed, open_lead])
    made = _connect(engine, site, fake)
    _visit_and_call(client, site, hook)
    (call_id,) = classified_leads(engine)
    _deliver(engine, http).close()
    assert fake.got("POST", "/api/v4/leads/complex") == []
    (note,) = fake.got("POST", "/api/v4/leads/")
    assert note.path == f"/api/v4/leads/{open_lead}/notes"
    assert "Call from +7 916 123-45-67" in note.body[0]["params"]["text"]
    with engine.connect() as conn:
        kinds = dict(
            conn.execute(
                select(remote_links.c.kind, remote_links.c.remote_id).where(
                    remote_links.c.call_id == call_id
                )
            ).all()
        )
    assert kinds["lead"] == str(open_lead) and "note" in kinds
    answer = _post_hook(client, made, _status_form(open_lead, WON, "990.50"))
    assert answer.status_code == 200, answer.text
    (deal,) = _deal_rows(engine)
    assert (deal["call_id"], deal["amount_cents"], deal["status"]) == (call_id, 99_050, "won")


def test_a_spam_call_is_not_sent(engine: Engine, site: Seeded, fake: FakeAmo, http: Client) -> None:
    _connect(engine, site, fake)
    _lead_event(engine, site, spam=True)
    _deliver(engine, http).close()
    assert _states(engine) == [("delivered", 1)] and fake.requests == []


def test_a_refused_token_fails_for_good_without_a_retry(
    engine: Engine, site: Seeded, fake: FakeAmo, http: Client
) -> None:
    _connect(engine, site, fake, token="eyJ.a-token-amocrm-no-longer-knows.x")
    _lead_event(engine, site)
    clock = Clock(time.time())
    worker = _deliver(engine, http, clock)
    clock.advance(3_600)
    assert worker.round() == 0
    worker.close()
    assert _states(engine) == [("failed", 1)]
    assert len(fake.requests) == 1 and fake.leads == {}


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [(429, {"Retry-After": "120"}, 120.0), (500, {}, 30.0), (503, {}, 30.0)],
)
def test_a_rate_limit_or_a_server_error_is_retried_and_makes_one_lead(
    engine: Engine,
    site: Seeded,
    fake: FakeAmo,
    http: Client,
    status: int,
    headers: dict[str, str],
    wait: float,
) -> None:
    _connect(engine, site, fake)
    _lead_event(engine, site)
    fake.fail_next = [(status, headers)]
    clock = Clock(time.time())
    worker = _deliver(engine, http, clock)
    assert _states(engine) == [("pending", 1)]
    with engine.connect() as conn:
        next_at = conn.execute(select(deliveries.c.next_at)).scalar_one()
    assert next_at - clock() >= wait * 0.9
    clock.advance(wait * 1.2)
    worker.round()
    worker.close()
    assert _states(engine) == [("delivered", 2)]
    assert len(fake.leads) == 1


def test_an_amocrm_that_does_not_answer_in_time_is_tried_again(
    engine: Engine, site: Seeded, fake: FakeAmo
) -> None:
    impatient = Client(httpx.Timeout(0.2))
    _connect(engine, site, fake)
    _lead_event(engine, site)
    clock = Clock(time.time())
    fake.hold = threading.Event()
    fake.hold.set()
    worker = _deliver(engine, impatient, clock)
    fake.hold.clear()
    assert _states(engine) == [("pending", 1)]
    clock.advance(60)
    worker.round()
    worker.close()
    impatient.close()
    assert _states(engine)[0][0] == "delivered"
    assert len(fake.leads) == 1


def test_the_webhook_refuses_strangers_and_malformed_forms(
    engine: Engine,
    client: TestClient,
    site: Seeded,
    fake: FakeAmo,
    caplog: pytest.LogCaptureFixture,
) -> None:
    made = _connect(engine, site, fake)
    with caplog.at_level(logging.INFO, logger="callpath.access"):
        assert _post_hook(client, made, b"").status_code == 200
    dest_id = made.destination["id"]
    assert f"POST /hooks/amocrm/{dest_id}/*** 200" in caplog.text
    assert made.hook_token not in caplog.text
    form = _status_form(123, WON, "1000")
    dest = made.destination["id"]
    for path in (
        amocrm.hook_path(dest, "wrong-" + made.hook_token[6:]),
        amocrm.hook_path(dest + 1, made.hook_token),
        amocrm.hook_path(0, made.hook_token),
        f"/hooks/amocrm/x1/{made.hook_token}",
        f"/hooks/amocrm/{'9' * 40}/{made.hook_token}",
    ):
        answer = client.post(path, content=form)
        assert answer.status_code == 401, (path, answer.text)
        assert "error" in answer.json() or "detail" in answer.json()
    bad = [
        b"leads[status][0][id]=12x",
        b"leads[status][0][status_id]=142",
        b"leads[status][0][id]=1&leads[status][0][price]=lots",
        b"leads[status][0][id]=1&leads[status][0][id][x]=2",
        b"leads[status]=everything",
        b"\xff\xfe\x00",
        b"leads<script>=1",
        b"a" + b"[x]" * 20 + b"=1",
    ]
    for body in bad:
        answer = _post_hook(client, made, body)
        assert answer.status_code == 400, (body, answer.text)
        wrong = _post_hook(client, made, body, token="nope")
        assert wrong.status_code == 401
    huge = _post_hook(client, made, b"leads[status][0][name]=" + b"x" * 300_000)
    assert huge.status_code == 413
    other = _post_hook(client, made, b"contacts[add][0][id]=5&account[subdomain]=shop")
    assert other.status_code == 200 and other.json() == {"deals": [], "ignored": []}
    assert _deal_rows(engine) == []


def test_a_lead_not_from_our_calls_is_kept_for_the_site_or_left_out(
    engine: Engine, client: TestClient, fake: FakeAmo
) -> None:
    site = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        everywhere = amocrm.connect(
            conn, site.account_id, fake.url, fake.token, time.time(), allow_private=True
        )
    answer = _post_hook(client, everywhere, _status_form(777, WON, "500"))
    assert answer.status_code == 200 and answer.json()["deals"] == []
    assert "no site" in answer.json()["ignored"][0]
    for_site = _connect(engine, site, fake)
    answer = _post_hook(client, for_site, _status_form(777, 143, "500"))
    assert answer.status_code == 200 and len(answer.json()["deals"]) == 1
    (deal,) = _deal_rows(engine)
    assert (deal["link"], deal["status"], deal["site_id"]) == ("none", "lost", site.site_id)


def test_the_command_connects_lists_and_removes(
    engine: Engine, database_url: str, client: TestClient, fake: FakeAmo
) -> None:
    site = seed_site(engine, pool_size=1)
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_PUBLIC_URL": ""}
    common = ["--account", str(site.account_id), "--token", fake.token]
    done = runner.invoke(
        cli,
        ["amocrm", "connect", *common, "--url", fake.url, "--site", site.key, "--pipeline", "7",
         "--field", "utm_source=123", "--allow-private", "--server", "https://cp.example"],
        env=env,
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    url = next(w for w in done.output.split() if w.startswith("https://cp.example/hooks/"))
    dest = int(done.output.split()[1])
    answer = client.post(url.removeprefix("https://cp.example"), content=b"")
    assert answer.status_code == 200 and answer.json() == {"deals": [], "ignored": []}
    with engine.connect() as conn:
        config = conn.execute(
            select(destinations_table.c.config).where(destinations_table.c.id == dest)
        ).scalar_one()
    assert config == {"token": fake.token, "pipeline_id": 7, "fields": {"utm_source": 123}}
    listed = runner.invoke(cli, ["amocrm", "list", "--account", str(site.account_id)], env=env)
    assert listed.exit_code == 0 and f"{dest}\tactive\t{fake.url}" in listed.output
    assert fake.token not in listed.output
    for refused in (
        ["--url", "http://127.0.0.1:9"],  # plain http, a loopback address: not allowed
        ["--url", "https://x.amocrm.ru/api/v4"],
        ["--url", fake.url, "--allow-private", "--field", "colour=1"],
    ):
        bad = runner.invoke(cli, ["amocrm", "connect", *common, *refused], env=env)
        assert bad.exit_code == 2 and bad.output.count("\n") <= 2, bad.output
    short = runner.invoke(
        cli,
        ["amocrm", "connect", "--account", str(site.account_id), "--token", "x",
         "--url", fake.url, "--allow-private"],
        env=env,
    )  # fmt: skip
    assert short.exit_code == 2 and "token" in short.output
    removed = runner.invoke(cli, ["amocrm", "remove", str(dest)], env=env)
    assert removed.exit_code == 0, removed.output
    assert client.post(url.removeprefix("https://cp.example"), content=b"").status_code == 401
    again = runner.invoke(cli, ["amocrm", "remove", str(dest)], env=env)
    assert again.exit_code == 2
