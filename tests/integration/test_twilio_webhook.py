"""Twilio Programmable Voice over HTTP: TwiML <Dial> from routing, signed callbacks folded
into one call matched to the visitor who held the number, 403 for anything unsigned."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.etree.ElementTree import Element, fromstring

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.storage.db import make_engine, transaction
from callpath.storage.tables import call_events, integrations, tracking_numbers
from callpath.telephony.twilio.signature import Params, sign
from callpath.web.app import create_app
from tests.helpers import Seeded, call_row, count
from tests.unit.test_twilio_adapter import fixture

PUBLIC = "https://track.example.com"
TOKEN = "f3a9c0d2e4b1a7c55b6d8e0f1a2b3c4d"
OWN_DESTINATION = "+74951234567"
CALLER = "+79161234567"
FORM = "application/x-www-form-urlencoded"


def _app(database_url: str, tmp_path: Path, public: str | None) -> Any:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    if public:
        env["CALLPATH_PUBLIC_URL"] = public
    return create_app(settings_mod.load(env))


@pytest.fixture
def client(engine: Engine, database_url: str, tmp_path: Path) -> TestClient:
    """callpath behind a proxy: Twilio calls (and signs) the public URL."""
    return TestClient(_app(database_url, tmp_path, PUBLIC), raise_server_exceptions=False)


@dataclass
class Twilio:
    """A Twilio integration of the seeded site, and how Twilio posts to it."""

    integration_id: str
    token: str = TOKEN
    base: str = PUBLIC

    def path(self, callback: str) -> str:
        tail = "" if callback == "voice" else f"/{callback}"
        return f"/hooks/twilio/{self.integration_id}{tail}"

    def post(
        self,
        client: TestClient,
        callback: str,
        params: Params,
        query: str = "",
        signed_url: str | None = None,
        token: str | None = None,
    ) -> Any:
        path = self.path(callback) + (f"?{query}" if query else "")
        url = signed_url or self.base + path
        headers = {
            "Content-Type": FORM,
            "X-Twilio-Signature": sign(token or self.token, url, params),
        }
        body = urlencode([(name, value) for name, values in params.items() for value in values])
        return client.post(path, content=body, headers=headers)

    def send(self, client: TestClient, name: str, **replace: str) -> Any:
        callback, params = fixture(name, **replace)
        return self.post(client, callback, params)


@pytest.fixture
def twilio(engine: Engine, site: Seeded) -> Twilio:
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "twilio", "Twilio", time.time(), TOKEN
        )
    return Twilio(made.id)


def dial_of(reply: Any) -> Element:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/xml")
    dial = fromstring(reply.text).find("Dial")
    assert dial is not None, reply.text
    return dial


def empty(reply: Any) -> bool:
    ok = reply.status_code == 200 and reply.headers["content-type"].startswith("text/xml")
    return ok and fromstring(reply.text).tag == "Response" and len(fromstring(reply.text)) == 0


def test_a_call_is_answered_with_a_dial_to_its_route(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    with transaction(engine) as conn:
        conn.execute(
            update(tracking_numbers)
            .where(tracking_numbers.c.e164 == site.pool[1])
            .values(forward_to=OWN_DESTINATION)
        )
    dial = dial_of(twilio.send(client, "voice", To=site.pool[1]))
    hooks = f"{PUBLIC}/hooks/twilio/{twilio.integration_id}"
    assert dial.attrib == {"callerId": CALLER, "action": f"{hooks}/dial"}
    number = dial.find("Number")
    assert number is not None and number.text == OWN_DESTINATION
    assert number.attrib == {
        "statusCallbackEvent": "answered completed",
        "statusCallback": f"{hooks}/status",
    }
    unknown = dial_of(twilio.send(client, "voice", To="+74959998877", CallSid="CA2"))
    assert unknown.findtext("Number") == site.original  # no route: the site's default
    anonymous = dial_of(twilio.send(client, "voice", To=site.pool[0], CallSid="CA3", From=""))
    assert "callerId" not in anonymous.attrib


def test_record_1_on_the_webhook_url_records_the_answered_call(
    client: TestClient, site: Seeded, twilio: Twilio
) -> None:
    _, params = fixture("voice", To=site.pool[0])
    dial = dial_of(twilio.post(client, "voice", params, query="record=1"))
    hooks = f"{PUBLIC}/hooks/twilio/{twilio.integration_id}"
    assert dial.attrib["record"] == "record-from-answer"
    assert dial.attrib["recordingStatusCallback"] == f"{hooks}/recording"
    # the query is part of what Twilio signs: adding it afterwards breaks the signature
    forged = twilio.post(
        client, "voice", params, query="record=1", signed_url=PUBLIC + twilio.path("voice")
    )
    assert forged.status_code == 403


def test_the_whole_call_is_one_answered_call_matched_to_the_visitor(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    visit = client.post(
        "/t/v1/session",
        content=json.dumps(
            {"site": site.key, "url": "https://shop.example/?utm_source=yandex&utm_medium=cpc"}
        ),
    ).json()
    number = visit["number"]
    assert number in site.pool
    dial_of(twilio.send(client, "voice", To=number, Called=number))
    for name in ("status_answered", "status_completed", "dial_completed", "recording"):
        assert empty(twilio.send(client, name, To=number if name == "dial_completed" else "x"))
    call = call_row(engine)
    assert (call["state"], call["status"], call["talk"]) == ("ended", "answered", 42)
    assert call["tracking_number"] == number and call["caller"] == CALLER
    assert call["provider_call_id"] == "CA5f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e"
    assert call["duration"] is not None and call["answered_at"] is not None
    assert call["recording_url"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert (call["session_id"], call["visitor_id"]) == (visit["session"], visit["visitor"])
    assert (call["source"], call["medium"]) == ("yandex", "cpc")
    assert count(engine, call_events) == 5


@pytest.mark.parametrize(("name", "status"), [("dial_busy", "busy"), ("dial_no_answer", "missed")])
def test_a_dial_that_did_not_connect_gives_its_status(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio, name: str, status: str
) -> None:
    dial_of(twilio.send(client, "voice", To=site.pool[0]))
    assert empty(twilio.send(client, name, To=site.pool[0]))
    call = call_row(engine)
    assert (call["state"], call["status"], call["talk"], call["answered_at"]) == (
        "ended",
        status,
        0,
        None,
    )


def test_redeliveries_are_kept_once_and_answered_the_same(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    first = twilio.send(client, "voice", To=site.pool[0])
    assert empty(twilio.send(client, "dial_completed", To=site.pool[0]))
    before = call_row(engine)
    again = twilio.send(client, "voice", To=site.pool[0])
    assert again.text == first.text
    assert empty(twilio.send(client, "dial_completed", To=site.pool[0]))
    assert count(engine, call_events) == 2
    assert {k: v for k, v in call_row(engine).items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_callbacks_in_any_order_fold_into_the_same_call(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    for name in ("recording", "status_completed", "dial_completed", "voice", "status_answered"):
        reply = twilio.send(
            client, name, To=site.pool[0] if name in ("voice", "dial_completed") else "x"
        )
        assert reply.status_code == 200, reply.text
    call = call_row(engine)
    assert (call["state"], call["status"], call["talk"]) == ("ended", "answered", 42)
    assert call["tracking_number"] == site.pool[0] and call["recording_url"]
    assert count(engine, call_events) == 5


def test_unsigned_or_forged_requests_are_403_whatever_the_integration(
    client: TestClient, engine: Engine, site: Seeded, twilio: Twilio
) -> None:
    callback, params = fixture("voice", To=site.pool[0])
    path = twilio.path("voice")
    body = urlencode([(k, v[0]) for k, v in params.items()])
    cases = {
        "no signature": client.post(path, content=body, headers={"Content-Type": FORM}),
        "garbage": client.post(
            path, content=body, headers={"Content-Type": FORM, "X-Twilio-Signature": "x"}
        ),
        "another token": twilio.post(client, callback, params, token="0" * 32),
        "the internal URL": twilio.post(
            client, callback, params, signed_url="http://testserver" + path
        ),
        "another path": twilio.post(client, callback, params, signed_url=PUBLIC + path + "/x"),
        "unknown integration": Twilio("int_0000000000000000").send(client, "voice"),
        "too long an id": Twilio("int_" + "0" * 40).send(client, "voice"),
    }
    for name, reply in cases.items():
        assert reply.status_code == 403, name
        assert reply.json()["error"], name
    for cb in ("dial", "status", "recording"):
        unsigned = client.post(twilio.path(cb), content=body, headers={"Content-Type": FORM})
        assert unsigned.status_code == 403, cb
    with transaction(engine) as conn:
        conn.execute(update(integrations).values(secret=""))
    no_secret = Twilio(twilio.integration_id, token="").send(client, "voice", To=site.pool[0])
    assert no_secret.status_code == 403 and "auth token" in no_secret.json()["error"]
    assert count(engine, call_events) == 0


def test_without_a_public_url_the_request_url_is_signed(
    engine: Engine, database_url: str, tmp_path: Path, site: Seeded, twilio: Twilio
) -> None:
    client = TestClient(_app(database_url, tmp_path, None), raise_server_exceptions=False)
    local = Twilio(twilio.integration_id, base="http://testserver")
    dial = dial_of(local.send(client, "voice", To=site.pool[0]))
    assert dial.attrib["action"] == f"http://testserver{local.path('dial')}"
    _, params = fixture("dial_busy", To=site.pool[0])
    with_port = "http://testserver:80" + local.path("dial")
    assert empty(local.post(client, "dial", params, signed_url=with_port))
    assert twilio.send(client, "voice", To=site.pool[0]).status_code == 403  # public URL
    assert call_row(engine)["status"] == "busy"


def test_with_the_database_down_the_call_is_still_dialled(
    engine: Engine, database_url: str, site: Seeded, twilio: Twilio, tmp_path: Path
) -> None:
    """Started with the database up (route cache loaded), which then goes away."""
    with transaction(engine) as conn:
        conn.execute(
            update(tracking_numbers)
            .where(tracking_numbers.c.e164 == site.pool[1])
            .values(forward_to=OWN_DESTINATION)
        )
    app = _app(database_url, tmp_path, PUBLIC)
    with TestClient(app, raise_server_exceptions=False) as client:
        app.state.ctx.pipeline.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x")
        dial = dial_of(twilio.send(client, "voice", To=site.pool[1]))
        assert dial.findtext("Number") == OWN_DESTINATION
        assert empty(twilio.send(client, "dial_completed", To=site.pool[1]))
        other = dial_of(twilio.send(client, "voice", To="+74959998877", CallSid="CA9"))
        assert other.findtext("Number") == site.original
        unsigned = client.post(twilio.path("voice"), content=b"CallSid=CA8&To=%2B7")
        assert unsigned.status_code == 403
    assert len(list((tmp_path / "spool").glob("*.event"))) == 3
    assert count(engine, call_events) == 0
