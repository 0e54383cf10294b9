"""Zadarma / Novofon notifications over HTTP against the real app and database: the echo
check, signed notifications per event type, the redirect answer, a whole call matched to
the visitor who held the number, statuses, retries, any order, fail closed, hostile input."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.storage.db import make_engine, transaction
from callpath.storage.tables import call_events, integrations
from callpath.telephony.zadarma import adapter, freshness
from callpath.web.app import create_app
from tests.helpers import Seeded, call_row, count, free_port

SECRET = "zd-api-secret-7c1e"
ZONE = 3 * 3600  # the test account's wall clock: UTC+3, like the fixtures' Moscow numbers
# One call_start for every notification made here: the notifications of one call sign the
# same one, and it must be recent (`freshness`).
CALL_START = freshness.wall_text(time.time() + ZONE)
FIXTURES = Path(adapter.__file__).parent / "fixtures"
CALLER = "79161234567"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# the documented signature string of each event: these fields, concatenated
ORDER = {
    "NOTIFY_START": ("caller_id", "called_did", "call_start"),
    "NOTIFY_INTERNAL": ("caller_id", "called_did", "call_start"),
    "NOTIFY_ANSWER": ("caller_id", "destination", "call_start"),
    "NOTIFY_END": ("caller_id", "called_did", "call_start"),
    "NOTIFY_OUT_START": ("internal", "destination", "call_start"),
    "NOTIFY_OUT_END": ("internal", "destination", "call_start"),
    "NOTIFY_RECORD": ("pbx_call_id", "call_id_with_rec"),
}


def sign(secret: str, fields: dict[str, str]) -> str:
    """base64(hex(HMAC-SHA1)) as the docs' PHP example computes it (not the adapter's)."""
    message = "".join(fields.get(f, "") for f in ORDER[fields["event"]])
    digest = hmac.new(secret.encode(), message.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def notification(name: str, **changes: str) -> dict[str, str]:
    """A fixture notification dated now (`CALL_START`), with `changes`."""
    fields: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text())
    if "call_start" in fields:
        fields["call_start"] = CALL_START
    return {**fields, **changes}


class Zadarma:
    """The Zadarma side: posts signed notifications to one integration's URL."""

    def __init__(self, client: TestClient, integration_id: str, secret: str = SECRET) -> None:
        self.client, self.path, self.secret = client, f"/hooks/zadarma/{integration_id}", secret

    def post(self, fields: dict[str, str], query: str = "", **headers: str) -> Any:
        all_headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Signature": sign(self.secret, fields) if fields.get("event") in ORDER else "",
            **headers,
        }
        return self.client.post(
            self.path + query, content=urlencode(fields).encode(), headers=all_headers
        )

    def call(self, called: str, call_id: str, *names: str, **changes: str) -> list[Any]:
        common = {"called_did": called, "pbx_call_id": call_id, **changes}
        out = []
        for name in names:
            fields = notification(name, pbx_call_id=call_id)
            fields.update({k: v for k, v in common.items() if k in fields})
            out.append(self.post(fields))
        return out


@pytest.fixture
def client(engine: Engine, database_url: str, tmp_path: Path) -> TestClient:
    settings = settings_mod.load(
        {
            "CALLPATH_DATABASE_URL": database_url,
            "CALLPATH_SPOOL_DIR": str(tmp_path / "spool"),
            "CALLPATH_SITE_CACHE_SECONDS": "0",
        }
    )
    return TestClient(create_app(settings), raise_server_exceptions=False)


@pytest.fixture
def zd(engine: Engine, site: Seeded, client: TestClient) -> Zadarma:
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, "zadarma", "Zadarma", time.time(), SECRET
        )
    return Zadarma(client, made.id)


def digits(e164: str) -> str:
    return e164.lstrip("+")


def test_the_echo_check_answers_the_value_as_plain_text(zd: Zadarma) -> None:
    r = zd.client.get(zd.path, params={"zd_echo": "a1B2c3D4e5"})
    assert (r.status_code, r.text) == (200, "a1B2c3D4e5")
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["x-content-type-options"] == "nosniff"
    for bad in ({}, {"zd_echo": ""}, {"zd_echo": "<script>"}, {"zd_echo": "x" * 200}):
        r = zd.client.get(zd.path, params=bad)
        assert r.status_code == 400, bad
        assert "zd_echo" in r.json()["error"]


def test_start_is_answered_with_the_redirect_to_the_destination(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    start = notification("notify_start", called_did=digits(site.pool[0]))
    r = zd.post(start, query="?extension=100")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "redirect": "100",
        "return_timeout": 0,
        "rewrite_forward_number": digits(site.original),
    }
    assert r.headers["x-callpath-call"].startswith("c")
    with transaction(engine) as conn:
        setup.add_number(
            conn,
            site.account_id,
            site.site_id,
            setup.NumberInput(number="+74957770001", kind="pool", forward_to="+74951234567"),
            time.time(),
        )
    own = notification("notify_start", called_did="74957770001", pbx_call_id="in_2")
    assert zd.post(own, query="?extension=100").json()["rewrite_forward_number"] == "74951234567"
    # without an extension in the URL the PBX's own scenario runs; the call is still kept
    other = notification("notify_start", called_did="74957770001", pbx_call_id="in_3")
    assert zd.post(other).json() == {}
    assert count(engine, call_events) == 3
    assert zd.post(start, query="?extension=1a").status_code == 400


def test_a_whole_call_is_attributed_to_the_visitor_who_held_the_number(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    page = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring"
    visit = zd.client.post(
        "/t/v1/session",
        content=json.dumps({"site": site.key, "url": page}),
        headers={"Content-Type": "text/plain", "User-Agent": CHROME},
    ).json()
    shown = visit["number"]
    assert shown in site.pool
    answers = zd.call(
        digits(shown),
        "in_flow",
        "notify_start",
        "notify_internal",
        "notify_answer",
        "notify_end",
        "notify_record",
    )
    assert [r.status_code for r in answers] == [200] * 5
    assert "ignored" in answers[1].json()  # NOTIFY_INTERNAL: nothing callpath uses
    call = call_row(engine)
    assert (call["state"], call["status"], call["duration"]) == ("ended", "answered", 75)
    assert call["tracking_number"] == shown
    assert call["caller"] == "+" + CALLER
    assert call["forward_to"] == site.original
    assert call["recording_url"] == "zadarma:1772355600.4711"
    assert call["answered_at"] is not None
    assert (call["visitor_id"], call["session_id"]) == (visit["visitor"], visit["session"])
    assert (call["match_method"], call["source"]) == ("pool", "yandex")
    assert call["id"] == answers[0].headers["x-callpath-call"]
    assert count(engine, call_events) == 4


@pytest.mark.parametrize(
    ("disposition", "status"),
    [("busy", "busy"), ("no answer", "missed"), ("cancel", "missed"), ("failed", "failed")],
)
def test_unanswered_calls_get_their_status(
    engine: Engine, site: Seeded, zd: Zadarma, disposition: str, status: str
) -> None:
    answers = zd.call(
        digits(site.pool[1]),
        "in_busy",
        "notify_start",
        "notify_end",
        disposition=disposition,
        duration="0",
        is_recorded="0",
        call_id_with_rec="",
    )
    assert [r.status_code for r in answers] == [200, 200]
    call = call_row(engine)
    assert (call["state"], call["status"], call["answered_at"]) == ("ended", status, None)
    assert call["recording_url"] is None


def test_a_retried_notification_changes_nothing_and_is_answered_the_same(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    start = notification("notify_start", called_did=digits(site.pool[0]))
    first = zd.post(start, query="?extension=100")
    before = call_row(engine)
    again = zd.post(start, query="?extension=100")
    assert (again.status_code, again.json()) == (200, first.json())
    end = notification("notify_end", called_did=digits(site.pool[0]))
    zd.post(end)
    zd.post(end)
    assert count(engine, call_events) == 2
    assert call_row(engine)["state"] == "ended" != before["state"]


def test_notifications_in_any_order_fold_into_one_call(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    answers = zd.call(
        digits(site.pool[0]),
        "in_late",
        "notify_record",
        "notify_end",
        "notify_answer",
        "notify_start",
    )
    assert [r.status_code for r in answers] == [200] * 4
    call = call_row(engine)
    assert (call["state"], call["status"], call["duration"]) == ("ended", "answered", 75)
    assert call["tracking_number"] == site.pool[0]  # NOTIFY_ANSWER's destination is no number
    assert call["recording_url"] == "zadarma:1772355600.4711"
    assert call["forward_to"] == site.original
    with engine.connect() as conn:
        pending = conn.execute(select(call_events.c.id).where(call_events.c.applied_at.is_(None)))
        assert pending.all() == []


def test_unsigned_forged_or_unknown_senders_are_401(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    start = notification("notify_start", called_did=digits(site.pool[0]))
    cases = {
        "no signature": {"Signature": ""},
        "garbage": {"Signature": "bm90IGEgc2lnbmF0dXJl"},
        "other secret": {"Signature": sign("someone-elses-secret", start)},
        "raw hex, not base64": {
            "Signature": hmac.new(SECRET.encode(), b"x", hashlib.sha1).hexdigest()
        },
    }
    for name, headers in cases.items():
        r = zd.post(start, **headers)
        assert r.status_code == 401, name
        assert r.json()["error"], name
    tampered = {**start, "called_did": digits(site.pool[1])}
    r = zd.post(tampered, Signature=sign(SECRET, start))
    assert r.status_code == 401
    unknown = Zadarma(zd.client, "int_nope").post(start)
    assert (unknown.status_code, unknown.json()["error"]) == (401, "unknown integration")
    with transaction(engine) as conn:
        conn.execute(update(integrations).values(kind="generic"))
    assert zd.post(start).status_code == 401  # a generic integration's id is no Zadarma URL
    assert count(engine, call_events) == 0


def test_unknown_events_are_ignored_with_200(engine: Engine, zd: Zadarma) -> None:
    for fields in (
        {"event": "NOTIFY_IVR", "pbx_call_id": "1", "caller_id": CALLER},
        {"event": "SMS", "caller_id": CALLER, "text": "hi"},
        notification("notify_internal"),
    ):
        r = zd.post(fields)
        assert r.status_code == 200, fields
        assert "ignored" in r.json()
    assert count(engine, call_events) == 0


def test_hostile_bodies_are_400_with_a_reason_never_500(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Signature": "x"}
    for raw, reason in [
        (b"\xff\xfe", "form"),
        (b"event=NOTIFY_START&event=NOTIFY_END", "twice"),
        (b"event=%00", "printable"),
        (b"pbx_call_id=1", "event"),
    ]:
        r = zd.client.post(zd.path, content=raw, headers=headers)
        assert r.status_code == 400, raw
        assert reason in r.json()["error"]
    start = notification("notify_start", called_did="")
    assert "called_did" in zd.post(start).json()["error"]
    end = notification("notify_end", duration="1e999")
    assert zd.post(end).status_code == 400
    huge = b"event=NOTIFY_START&pad=" + b"x" * 20_000
    assert zd.client.post(zd.path, content=huge, headers=headers).status_code == 413
    rng = random.Random(5)
    values = ["", "x" * 300, "+7", "\u202e", "<b>", "nan", "-1", "0", CALLER, "NOTIFY_END"]
    names = [
        "caller_id",
        "called_did",
        "call_start",
        "pbx_call_id",
        "duration",
        "disposition",
        "destination",
        "call_id_with_rec",
        "is_recorded",
        "internal",
    ]
    for _ in range(200):
        fields = {k: rng.choice(values) for k in names if rng.random() < 0.7}
        fields["event"] = rng.choice([*ORDER, "NOTIFY_X", ""])
        r = zd.post(fields)
        assert r.status_code in (200, 400, 401), (fields, r.text)
    assert count(engine, call_events) <= 200


def test_with_the_database_away_start_is_redirected_from_the_route_cache(
    engine: Engine, site: Seeded, zd: Zadarma
) -> None:
    """The route itself never touches the database: the pipeline answers from its cache
    and spools; the spool reaches the database once it is back."""
    with zd.client as client:  # runs the lifespan: the route cache is loaded
        pipeline = client.app.state.ctx.pipeline  # type: ignore[attr-defined]
        real = pipeline.engine
        pipeline.engine = make_engine(
            f"postgresql+psycopg://callpath@127.0.0.1:{free_port()}/none?connect_timeout=2"
        )
        try:
            start = notification("notify_start", called_did=digits(site.pool[0]))
            r = zd.post(start, query="?extension=100")
            assert r.status_code == 200, r.text
            assert r.json()["rewrite_forward_number"] == digits(site.original)
            assert zd.post(notification("notify_end", called_did=digits(site.pool[0]))).json()
            assert count(engine, call_events) == 0
        finally:
            pipeline.engine.dispose()
            pipeline.engine = real
    pipeline.drain_spool()  # the worker (stopped now) may have taken some already
    assert count(engine, call_events) == 2
    call = call_row(engine)
    assert (call["state"], call["status"], call["forward_to"]) == (
        "ended",
        "answered",
        site.original,
    )
