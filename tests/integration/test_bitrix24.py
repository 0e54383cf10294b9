"""Bitrix24 both ways, on a real database and a fake portal (tests/fakes/bitrix24.py),
with the tests' clock: a call from an ad visit becomes a Bitrix24 lead with the visit's
UTM tags and a call card, once; the portal's deal event brings the deal back, linked to
the call, and its revenue shows on the visit's channel. Rate limits are retried, a wrong
webhook is not; deal events are checked by the outgoing webhook's token, read back off
the event loop, and refused with a reason (never a 500) when malformed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from callpath import settings as settings_mod
from callpath.domain.pool import PoolSettings
from callpath.integrations import destinations
from callpath.integrations.bitrix24 import connect
from callpath.integrations.http import Client
from callpath.services import leads, setup, tracking
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage.db import transaction
from callpath.storage.site_repo import load_site_config
from callpath.storage.tables import deals, deliveries, delivery_attempts
from callpath.telephony.generic.adapter import sign
from callpath.web.app import create_app
from callpath.workers.delivery import Deliverer
from tests.fakes.bitrix24 import FakeBitrix24
from tests.helpers import Clock, api_headers, free_port, iso, run_async, seed_site

AD = (
    "https://shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=winter"
    "&utm_content=banner&utm_term=pizza&gclid=G-42"
)
CALLER = "+79161234567"
TOKEN = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
FIRST = 30.0


class World:
    """A site with a pool, its PBX, a connected portal, a delivery worker and the app."""

    def __init__(self, engine: Engine, database_url: str, tmp: Path, fake: FakeBitrix24) -> None:
        self.engine = engine
        self.fake = fake
        self.clock = Clock()  # mid-January 2027 (UTC)
        self.site = seed_site(engine, pool_size=2, pool=PoolSettings(hold_after_leave=600))
        with transaction(engine) as conn:
            made = setup.create_integration(
                conn, self.site.account_id, self.site.site_id, "generic", "PBX", time.time()
            )
            self.config = load_site_config(conn, site_id=self.site.site_id)
        self.hook = (made.id, made.secret)
        self.pipeline = CallPipeline(engine, RouteCache(None), Spool(tmp / "spool"), self.clock)
        self.client = Client(httpx.Timeout(5.0))
        self.worker = Deliverer(engine, self.clock, self.client, first_retry=FIRST, threads=2)
        env = {
            "CALLPATH_DATABASE_URL": database_url,
            "CALLPATH_SPOOL_DIR": str(tmp),
            "CALLPATH_SITE_CACHE_SECONDS": "0",
        }
        self.app = create_app(settings_mod.load(env))
        self.web = TestClient(self.app, raise_server_exceptions=False)
        self.dest = 0
        self.calls = 0

    def connect(self, url: str | None = None, token: str | None = TOKEN, site: bool = True) -> int:
        with transaction(self.engine) as conn:
            row = connect.add(
                conn,
                self.site.account_id,
                url or self.fake.url,
                time.time(),
                application_token=token,
                site_id=self.site.site_id if site else None,
                allow_private=True,
            )
        self.dest = int(row["id"])
        return self.dest

    def call_from_an_ad(self, talk: float = 90) -> str:
        """A visit from the ad, a call to its number; the call's lead classified (its
        lead.created queued). The call's id."""
        assert self.config is not None
        shown = tracking.start_session(self.engine, self.config, tracking.Visit(url=AD), self.clock)
        assert shown.number
        self.clock.advance(60)
        self.calls += 1
        base = {"call_id": f"pbx-{self.calls}", "caller": CALLER, "called": shown.number}
        now = self.clock()
        key = None
        for event in (
            {**base, "event": "started", "at": iso(now)},
            {**base, "event": "answered", "at": iso(now + 5)},
            {**base, "event": "ended", "at": iso(now + 5 + talk), "talk": talk},
        ):
            key = self._send(event)
        self.clock.advance(10)
        leads.classify_due(self.engine, self.clock)
        assert key is not None
        return key

    def _send(self, event: dict[str, Any]) -> str:
        body = json.dumps(event).encode()
        stamp = str(int(self.clock()))
        reply = self.pipeline.receive_generic(
            self.hook[0], stamp, sign(self.hook[1], stamp, body), body
        )
        assert reply.call_key
        self.pipeline.apply(reply.call_key)
        return str(reply.body["call"])

    def deal_event(self, deal_id: int, token: str = TOKEN, dest: int | None = None) -> Any:
        form = {
            "event": "ONCRMDEALUPDATE",
            "data[FIELDS][ID]": str(deal_id),
            "ts": str(int(time.time())),
            "auth[domain]": "shop.bitrix24.ru",
            "auth[member_id]": "m" * 32,
            "auth[application_token]": token,
        }
        return self.post(urlencode(form).encode(), dest)

    def post(self, body: bytes, dest: int | None = None) -> Any:
        return self.web.post(
            f"/hooks/bitrix24/{self.dest if dest is None else dest}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def states(self) -> list[tuple[str, int]]:
        with self.engine.connect() as conn:
            query = select(deliveries.c.state, deliveries.c.attempts).order_by(deliveries.c.id)
            return [(str(s), int(a)) for s, a in conn.execute(query)]

    def deals(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(deals).order_by(deals.c.id))]

    def close(self) -> None:
        self.worker.close()
        self.client.close()


@pytest.fixture
def fake() -> Any:
    made = FakeBitrix24(free_port()).start()
    yield made
    made.stop()


@pytest.fixture
def world(engine: Engine, database_url: str, tmp_path: Path, fake: FakeBitrix24) -> Any:
    made = World(engine, database_url, tmp_path, fake)
    yield made
    made.close()


def test_a_call_becomes_a_lead_and_its_won_deal_shows_on_the_visit_channel(
    world: World, fake: FakeBitrix24
) -> None:
    world.connect()
    call_id = world.call_from_an_ad()
    assert world.worker.round() == 1
    assert world.states() == [("delivered", 1)]
    assert fake.methods() == ["crm.lead.add", "crm.timeline.comment.add"]
    ((lead_id, fields),) = fake.leads.items()
    assert fields["TITLE"] == "Call from +7 916 123-45-67"
    assert fields["PHONE"] == [{"VALUE": CALLER, "VALUE_TYPE": "WORK"}]
    assert fields["SOURCE_ID"] == "CALL" and fields["ORIGIN_ID"] == call_id
    utm = {k: v for k, v in fields.items() if k.startswith("UTM_")}
    assert utm == {
        "UTM_SOURCE": "google",
        "UTM_MEDIUM": "cpc",
        "UTM_CAMPAIGN": "winter",
        "UTM_CONTENT": "banner",
        "UTM_TERM": "pizza",
    }
    assert "Landing page: https://shop.example/sale?utm_source=google" in fields["COMMENTS"]
    assert "gclid=G-42" in fields["COMMENTS"] and "Matched by pool" in fields["COMMENTS"]
    (card,) = fake.comments
    assert (card["ENTITY_TYPE"], card["ENTITY_ID"]) == ("lead", lead_id)
    assert "talk 90 s" in card["COMMENT"] and call_id in card["COMMENT"]

    fake.add_deal(
        555,
        TITLE="Pizza oven",
        STAGE_ID="WON",
        STAGE_SEMANTIC_ID="S",
        OPPORTUNITY="15000.00",
        CURRENCY_ID="RUB",
        LEAD_ID=str(lead_id),
        CONTACT_ID="9",
        MOVED_TIME="2027-01-20T12:00:00+03:00",
    )
    answer = world.deal_event(555)
    assert answer.status_code == 200, answer.text
    assert answer.json()["link"] == "call" and answer.json()["call_id"] == call_id
    assert fake.called("crm.deal.get") == [{"id": 555}]
    assert "crm.contact.get" not in fake.methods()  # the lead linked it: no more asked
    (deal,) = world.deals()
    assert (deal["external_id"], deal["status"], deal["amount_cents"]) == (
        "bitrix24:555",
        "won",
        1_500_000,
    )
    assert (deal["call_id"], deal["currency"], deal["title"]) == (call_id, "RUB", "Pizza oven")

    month = "from=2027-01-01&to=2027-01-31"
    headers = api_headers(world.engine, world.site)
    report = world.web.get(
        f"/api/v1/reports/channels?site={world.site.key}&{month}", headers=headers
    )
    assert report.status_code == 200, report.text
    rows = {f"{r['source']}/{r['medium']}": r for r in report.json()["rows"]}
    assert (rows["google/cpc"]["won"], rows["google/cpc"]["revenue"]) == (1, 15000)

    fake.deals[555]["OPPORTUNITY"] = "16000"
    assert world.deal_event(555).json()["created"] is False  # the same deal, updated
    assert [d["amount_cents"] for d in world.deals()] == [1_600_000]


def test_a_lead_is_never_sent_twice(world: World, fake: FakeBitrix24) -> None:
    dest = world.connect()
    world.call_from_an_ad()
    world.worker.round()
    with transaction(world.engine) as conn:
        (row,) = destinations.log(conn, world.site.account_id, dest)
        destinations.replay_one(conn, world.site.account_id, row["id"], world.clock())
    assert world.worker.round() == 1
    assert world.states() == [("delivered", 1)]
    assert fake.methods() == ["crm.lead.add", "crm.timeline.comment.add"]  # nothing more
    with transaction(world.engine) as conn:
        (row,) = destinations.log(conn, world.site.account_id, dest)
        attempt = destinations.delivery(conn, world.site.account_id, row["id"])
    assert "sent before" in attempt["attempts_made"][-1]["excerpt"]


def test_a_lead_whose_answer_was_lost_is_found_not_made_again(
    world: World, fake: FakeBitrix24
) -> None:
    world.connect()
    call_id = world.call_from_an_ad()
    fake.leads[77] = {"TITLE": "made by the lost attempt", "ORIGIN_ID": call_id}
    fake.fail_next(500, "INTERNAL_SERVER_ERROR", "Internal server error")
    world.worker.round()
    assert world.states() == [("pending", 1)]
    world.clock.advance(FIRST * 1.2)
    world.worker.round()
    assert world.states() == [("delivered", 2)]
    assert fake.methods() == ["crm.lead.add", "crm.lead.list", "crm.timeline.comment.add"]
    assert list(fake.leads) == [77] and fake.comments[0]["ENTITY_ID"] == 77


def test_a_rate_limit_is_retried_and_makes_one_lead(world: World, fake: FakeBitrix24) -> None:
    world.connect()
    world.call_from_an_ad()
    fake.fail_next(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    world.worker.round()
    assert world.states() == [("pending", 1)]
    assert world.worker.round() == 0  # not due yet
    world.clock.advance(FIRST * 1.2)
    world.worker.round()
    assert world.states() == [("delivered", 2)]
    assert len(fake.leads) == 1 and len(fake.comments) == 1
    with world.engine.connect() as conn:
        statuses = conn.execute(
            select(delivery_attempts.c.status).order_by(delivery_attempts.c.id)
        ).scalars()
        assert list(statuses) == [503, 200]


def test_a_wrong_webhook_is_refused_for_good_and_its_code_never_logged(
    world: World, fake: FakeBitrix24
) -> None:
    wrong = fake.url.replace(fake.code, "wrong0code0here99")
    dest = world.connect(url=wrong)
    world.call_from_an_ad()
    world.worker.round()
    assert world.states() == [("failed", 1)]
    assert fake.refused == 1 and fake.leads == {}
    with transaction(world.engine) as conn:
        (row,) = destinations.log(conn, world.site.account_id, dest)
        listed = destinations.listed(conn, world.site.account_id)
    assert "INVALID_CREDENTIALS" in row["last_error"] and row["last_status"] == 401
    assert "wrong0code0here99" not in json.dumps([row, listed])
    assert listed[0]["url"].endswith("/rest/7/wr…99/")


def test_a_deal_event_needs_the_outgoing_webhook_token(world: World, fake: FakeBitrix24) -> None:
    fake.add_deal(5, STAGE_SEMANTIC_ID="S", OPPORTUNITY="100")
    world.connect(token=None)
    refused = world.deal_event(5, token=TOKEN)
    assert refused.status_code == 401 and "set-token" in refused.json()["error"]
    with transaction(world.engine) as conn:
        connect.set_token(conn, world.site.account_id, world.dest, TOKEN)
    wrong = world.deal_event(5, token=TOKEN[::-1])
    assert wrong.status_code == 401 and "application_token" in wrong.json()["error"]
    assert world.deal_event(5, token="").status_code == 401
    assert fake.requests == [] and world.deals() == []
    assert world.deal_event(5, dest=world.dest + 1000).status_code == 404
    assert world.deal_event(5).status_code == 200
    (deal,) = world.deals()
    assert (deal["link"], deal["site_id"], deal["status"]) == ("none", world.site.site_id, "won")


MALFORMED = [
    b"",
    b"event=ONCRMDEALUPDATE",
    b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=abc",
    b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=1&data[FIELDS][ID]=2",
    b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=" + b"9" * 40,
    b"event=\xff\xfe&data[FIELDS][ID]=1",
    b"event=ON%FFDEAL&data[FIELDS][ID]=1",
    "&".join(f"f{n}=1" for n in range(200)).encode(),
    b'{"event": "ONCRMDEALUPDATE"}',
]


def test_a_malformed_deal_event_is_a_400_with_a_reason(world: World) -> None:
    world.connect()
    for body in MALFORMED:
        answer = world.post(body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error"]


def test_an_oversized_event_and_bad_ids_are_refused(world: World) -> None:
    world.connect()
    assert world.post(b"event=" + b"x" * 20_000).status_code == 413
    assert world.post(b"event=ONCRMDEALUPDATE", dest=0).status_code == 422
    other = world.deal_event(1, dest=2**40)
    assert other.status_code == 422


def test_other_events_are_answered_and_ignored(world: World, fake: FakeBitrix24) -> None:
    world.connect()
    form = {"event": "ONCRMLEADADD", "data[FIELDS][ID]": "3", "auth[application_token]": TOKEN}
    answer = world.post(urlencode(form).encode())
    assert answer.status_code == 200 and "ONCRMLEADADD" in answer.json()["ignored"]
    assert fake.requests == []


def test_a_portal_that_cannot_be_read_is_a_503_and_nothing_is_kept(
    world: World, fake: FakeBitrix24
) -> None:
    fake.add_deal(8, STAGE_SEMANTIC_ID="S", OPPORTUNITY="100")
    world.connect()
    fake.fail_next(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    limited = world.deal_event(8)
    assert limited.status_code == 503 and "QUERY_LIMIT_EXCEEDED" in limited.json()["error"]
    missing = world.deal_event(9)  # Bitrix24 knows no such deal
    assert missing.status_code == 502 and "Not found" in missing.json()["error"]
    fake.stop()
    down = world.deal_event(8)
    assert down.status_code == 503
    assert fake.code not in down.text
    assert world.deals() == []


def test_a_deal_without_our_lead_is_linked_by_its_contact_phone(
    world: World, fake: FakeBitrix24
) -> None:
    world.connect(site=False)
    call_id = world.call_from_an_ad()
    fake.contacts[9] = {"ID": "9", "PHONE": [{"VALUE": "8 (916) 123-45-67", "VALUE_TYPE": "WORK"}]}
    fake.add_deal(
        6,
        STAGE_SEMANTIC_ID="F",
        OPPORTUNITY="700",
        LEAD_ID="999",  # not a lead callpath made
        CONTACT_ID="9",
        MOVED_TIME="2027-01-20T12:00:00+03:00",  # lost then: the caller's call came before
    )
    answer = world.deal_event(6)
    assert answer.status_code == 200, answer.text
    (deal,) = world.deals()
    assert (deal["link"], deal["call_id"], deal["status"]) == ("caller", call_id, "lost")
    fake.add_deal(7, STAGE_SEMANTIC_ID="P", OPPORTUNITY="1")  # no lead, no contact, no site
    kept = world.deal_event(7)
    assert kept.status_code == 200 and kept.json()["recorded"] is False
    assert len(world.deals()) == 1


def test_the_read_back_leaves_the_event_loop_free(world: World, fake: FakeBitrix24) -> None:
    """While Bitrix24 holds the read-back, the same event loop answers other requests."""
    fake.add_deal(4, STAGE_SEMANTIC_ID="P", OPPORTUNITY="10")
    world.connect()
    form = {"event": "ONCRMDEALUPDATE", "data[FIELDS][ID]": "4", "auth[application_token]": TOKEN}

    async def main() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=world.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            fake.hold()
            event = asyncio.create_task(
                client.post(f"/hooks/bitrix24/{world.dest}", content=urlencode(form))
            )
            await asyncio.to_thread(fake.arrived.wait)
            meanwhile = await client.get("/healthz")  # answered while the read-back waits
            assert not event.done()
            fake.release()
            return meanwhile.status_code, (await event).status_code

    assert run_async(main()) == (200, 200)
    assert len(world.deals()) == 1
