"""Hostile input to every call hook: raw non-ASCII header bytes, JSON integers too large
for a float, NaN and Infinity, lone surrogates, too many form fields, junk AMI fields.
Each is refused with a 4xx and a JSON reason (never a 500), stores nothing, and leaves
the events accepted before it in place."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import Engine

from callpath import settings as settings_mod
from callpath.services import setup
from callpath.services.calls import Integration
from callpath.services.pipeline import CallPipeline
from callpath.services.routing import RouteCache
from callpath.services.spool import Spool
from callpath.storage import call_repo
from callpath.storage.db import transaction
from callpath.storage.tables import call_events
from callpath.telephony.asterisk import adapter as asterisk
from callpath.telephony.asterisk import ami
from callpath.telephony.asterisk.calls import CallTracker
from callpath.telephony.sip.adapter import AUTH_HEADER
from callpath.telephony.twilio.signature import sign as twilio_sign
from callpath.web.app import create_app
from callpath.workers.asterisk import Listener
from tests.helpers import Hook, Seeded, add_number, count, iso, run_async
from tests.integration.test_zadarma_webhook import notification
from tests.integration.test_zadarma_webhook import sign as zd_sign

HUGE = b"1" + b"0" * 400  # a valid JSON integer that no float can hold
FORM = "application/x-www-form-urlencoded"
TOKEN = "f3a9c0d2e4b1a7c55b6d8e0f1a2b3c4d"
ZADARMA_SECRET = "zd-api-secret-7c1e"
ASTERISK = Path(asterisk.__file__).parent / "fixtures"


@pytest.fixture
def app(engine: Engine, database_url: str, tmp_path: Path) -> Any:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_SPOOL_DIR": str(tmp_path / "spool")}
    return create_app(settings_mod.load(env))


def post(app: Any, path: str, body: bytes, headers: dict[str, str | bytes]) -> httpx.Response:
    """POST through ASGI with the header bytes exactly as given (the test client would
    re-encode them as UTF-8), from loopback, a 500 answered rather than raised."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False, client=("127.0.0.1", 1))
        raw = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in headers.items()]
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post(path, content=body, headers=raw)

    return run_async(go())


def refused(r: httpx.Response, status: int, reason: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json", r.text
    assert reason in r.json()["error"], r.text


def integration(
    engine: Engine, site: Seeded, kind: str, secret: str | None = None
) -> tuple[str, str]:
    """A new integration of `site`: its id and secret."""
    with transaction(engine) as conn:
        made = setup.create_integration(
            conn, site.account_id, site.site_id, kind, kind, time.time(), secret
        )
    return made.id, made.secret


# -- generic ---------------------------------------------------------------------------


def signed(hook: Hook, body: bytes) -> dict[str, str | bytes]:
    return dict(hook.headers(body))


def accepted_first(app: Any, engine: Engine, site: Seeded, hook: Hook) -> None:
    body = json.dumps(
        {"event": "started", "call_id": "ok", "at": iso(time.time()), "called": site.pool[0]}
    )
    r = post(app, hook.path, body.encode(), signed(hook, body.encode()))
    assert r.status_code == 200, r.text
    assert count(engine, call_events) == 1


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        ("X-Callpath-Timestamp", b"\xb2\xb2\xb2", "X-Callpath-Timestamp"),  # '²'.isdigit()
        ("X-Callpath-Timestamp", "\u0661\u0667\u0660\u0660".encode() * 2, "X-Callpath-Timestamp"),
        ("X-Callpath-Timestamp", b"+1700000000", "X-Callpath-Timestamp"),
        ("X-Callpath-Signature", b"\xe9\xe9", "signature"),
        ("X-Callpath-Signature", "é".encode() * 32, "signature"),
    ],
)
def test_generic_non_ascii_headers_are_401(
    app: Any, engine: Engine, site: Seeded, hook: Hook, header: str, value: bytes, reason: str
) -> None:
    accepted_first(app, engine, site, hook)
    body = json.dumps({"event": "ended", "call_id": "ok", "at": iso(time.time())}).encode()
    refused(post(app, hook.path, body, {**signed(hook, body), header: value}), 401, reason)
    assert count(engine, call_events) == 1


def _ended(extra: bytes) -> bytes:
    return b'{"event":"ended","call_id":"ok","at":1767225600%s}' % extra


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event":"started","call_id":"x","called":"+74951096375","at":' + HUGE + b"}", "at:"),
        (b'{"event":"started","call_id":"x","called":"+74951096375","at":-' + HUGE + b"}", "at:"),
        (b'{"event":"started","call_id":"x","called":"+74951096375","at":NaN}', "at:"),
        (b'{"event":"started","call_id":"x","called":"+74951096375","at":Infinity}', "at:"),
        (_ended(b',"duration":' + HUGE), "duration:"),
        (_ended(b',"duration":1' + b"0" * 5000), "not JSON"),  # past Python's digit limit
        (_ended(b',"talk":' + HUGE), "talk:"),
        (_ended(b',"duration":-Infinity'), "duration:"),
        (_ended(b',"talk":NaN'), "talk:"),
        (_ended(b',"x":"\\ud800"'), "Unicode"),  # a lone surrogate, escaped
        (_ended(b',"x":["a",{"b":"\\udfff"}]'), "Unicode"),
        (_ended(b',"\\udbff":1'), "Unicode"),
        (_ended(b',"x":"\\ude00\\ud83d"'), "Unicode"),  # a pair in the wrong order
    ],
    ids=[
        "at-huge",
        "at-minus-huge",
        "at-nan",
        "at-infinity",
        "duration-huge",
        "duration-5000-digits",
        "talk-huge",
        "duration-minus-infinity",
        "talk-nan",
        "lone-surrogate",
        "lone-surrogate-nested",
        "lone-surrogate-key",
        "reversed-pair",
    ],
)
def test_generic_hostile_numbers_and_strings_are_400(
    app: Any, engine: Engine, site: Seeded, hook: Hook, body: bytes, reason: str
) -> None:
    accepted_first(app, engine, site, hook)
    refused(post(app, hook.path, body, signed(hook, body)), 400, reason)
    assert count(engine, call_events) == 1


def test_generic_surrogate_pairs_and_big_extra_numbers_are_fine(
    app: Any, engine: Engine, site: Seeded, hook: Hook
) -> None:
    body = _ended(b',"note":"\\ud83d\\ude00 \xf0\x9f\x93\x9e","x":' + HUGE)
    r = post(app, hook.path, body, signed(hook, body))
    assert r.status_code == 200, r.text
    assert count(engine, call_events) == 1


# -- Twilio ----------------------------------------------------------------------------


def test_twilio_too_many_form_fields_is_400_before_the_signature(
    app: Any, engine: Engine, site: Seeded
) -> None:
    path = f"/hooks/twilio/{integration(engine, site, 'twilio', TOKEN)[0]}"
    voice = {"CallSid": ["CA1"], "From": ["+79161234567"], "To": [site.pool[0]]}
    sent = twilio_sign(TOKEN, "http://testserver" + path, voice)
    body = urlencode({k: v[0] for k, v in voice.items()}).encode()
    r = post(app, path, body, {"Content-Type": FORM, "X-Twilio-Signature": sent})
    assert r.status_code == 200, r.text
    many = "&".join(f"a{i}=1" for i in range(600)).encode()
    for headers in ({"Content-Type": FORM}, {"Content-Type": FORM, "X-Twilio-Signature": "x"}):
        refused(post(app, path, many, dict(headers)), 400, "fields")
        refused(post(app, path + "/status", many, dict(headers)), 400, "fields")
    assert count(engine, call_events) == 1


@pytest.mark.parametrize("value", [b"\xe9\xe9", "é".encode() * 14, b"\xff" * 28])
def test_twilio_non_ascii_signature_is_403(
    app: Any, engine: Engine, site: Seeded, value: bytes
) -> None:
    path = f"/hooks/twilio/{integration(engine, site, 'twilio', TOKEN)[0]}"
    body = urlencode({"CallSid": "CA1", "To": site.pool[0]}).encode()
    r = post(app, path, body, {"Content-Type": FORM, "X-Twilio-Signature": value})
    refused(r, 403, "X-Twilio-Signature")
    assert count(engine, call_events) == 0


@pytest.mark.parametrize("host", [b"evil:99999", b"evil:port", b"[::1", b"\xe9vil"])
def test_twilio_hostile_host_header_is_403(
    app: Any, engine: Engine, site: Seeded, host: bytes
) -> None:
    """Without CALLPATH_PUBLIC_URL the signed URL is the request's own. Starlette swaps a
    Host it finds invalid for the ASGI server's address, whose port is None on a unix
    socket (and in this transport): `http://testserver:None/…`, which urllib refuses."""
    path = f"/hooks/twilio/{integration(engine, site, 'twilio', TOKEN)[0]}"
    body = urlencode({"CallSid": "CA1", "To": site.pool[0]}).encode()
    headers: dict[str, str | bytes] = {"Content-Type": FORM, "X-Twilio-Signature": "x"}
    refused(post(app, path, body, {**headers, "Host": host}), 403, "X-Twilio-Signature")
    assert count(engine, call_events) == 0


# -- SIP edge --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event":"answered","call_id":"x","at":' + HUGE + b"}", "at:"),
        (b'{"event":"answered","call_id":"x","at":-' + HUGE + b"}", "at:"),
        (b'{"event":"answered","call_id":"x","at":NaN}', "at:"),
        (b'{"event":"ended","call_id":"x","at":-Infinity}', "at:"),
        (b'{"event":"failed","call_id":"x","code":' + HUGE + b"}", "code:"),
        (b'{"event":"ended","call_id":"\\ud800"}', "Unicode"),
        (b'{"event":"ended","call_id":"x","note":"\\udc00"}', "Unicode"),
    ],
    ids=[
        "at-huge",
        "at-minus-huge",
        "at-nan",
        "at-minus-infinity",
        "code-huge",
        "lone-surrogate-call-id",
        "lone-surrogate-unused",
    ],
)
def test_sip_event_hostile_numbers_and_strings_are_400(
    app: Any, engine: Engine, site: Seeded, body: bytes, reason: str
) -> None:
    sip, secret = integration(engine, site, "sip")
    path = f"/hooks/sip/event?integration={sip}"
    ok = json.dumps({"event": "answered", "call_id": "x", "at": time.time()}).encode()
    assert post(app, path, ok, {AUTH_HEADER: secret}).status_code == 200
    for headers in ({}, {AUTH_HEADER: secret}):
        refused(post(app, path, body, dict(headers)), 400, reason)
    assert count(engine, call_events) == 1


def test_sip_non_ascii_secret_is_401(app: Any, engine: Engine, site: Seeded) -> None:
    path = f"/hooks/sip/event?integration={integration(engine, site, 'sip')[0]}"
    body = b'{"event":"answered","call_id":"x"}'
    for value in (b"\xe9\xe9", "é".encode() * 20):
        refused(post(app, path, body, {AUTH_HEADER: value}), 401, AUTH_HEADER)
    assert count(engine, call_events) == 0


# -- Zadarma ---------------------------------------------------------------------------


def test_zadarma_hostile_forms_and_headers_are_4xx(app: Any, engine: Engine, site: Seeded) -> None:
    path = f"/hooks/zadarma/{integration(engine, site, 'zadarma', ZADARMA_SECRET)[0]}"
    start = notification("notify_start", called_did=site.pool[0].lstrip("+"))
    good = urlencode(start).encode()
    ok = post(app, path, good, {"Content-Type": FORM, "Signature": zd_sign(ZADARMA_SECRET, start)})
    assert ok.status_code == 200, ok.text
    r = post(app, path + "?extension=%C2%B2", good, {"Content-Type": FORM, "Signature": "x"})
    refused(r, 400, "extension")
    for header in (b"\xe9\xe9", "é".encode() * 28):
        refused(
            post(app, path, good, {"Content-Type": FORM, "Signature": header}), 401, "signature"
        )
    for body in (
        "&".join(f"a{i}=1" for i in range(600)).encode(),
        good + b"&pad=%ED%A0%80",  # a surrogate, UTF-8 encoded
        good + b"&pad=%C0%AE",  # an overlong encoding
        good + b"&pad=\xb2",
    ):
        refused(post(app, path, body, {"Content-Type": FORM, "Signature": "x"}), 400, "form")
    for duration in ("9" * 190, "nan", "-inf", "1e999"):
        end = notification("notify_end", duration=duration)
        headers: dict[str, str | bytes] = {
            "Content-Type": FORM,
            "Signature": zd_sign(ZADARMA_SECRET, end),
        }
        refused(post(app, path, urlencode(end).encode(), headers), 400, "duration")
    assert count(engine, call_events) == 1


# -- Asterisk (AMI) --------------------------------------------------------------------


def _junk_stream() -> list[ami.Block]:
    """The busy call with its hang-up cause in superscript digits and a caller id that
    carries control characters."""
    raw = (ASTERISK / "busy.ami").read_bytes()
    raw = raw.replace(b"Cause: 17", "Cause: ¹⁷".encode())
    raw = raw.replace(b"CallerIDNum: 79031112233", b"CallerIDNum: 7903\x1b111\x7f2233")
    assert "¹⁷".encode() in raw and b"\x1b" in raw
    return ami.BlockParser().feed(raw)


def test_ami_junk_fields_neither_raise_nor_reach_a_stored_event(
    engine: Engine, site: Seeded, tmp_path: Path
) -> None:
    add_number(engine, site, "+74957770102", "pool")
    integ_id = integration(engine, site, "asterisk")[0]
    with transaction(engine) as conn:
        integ = Integration.from_row(call_repo.integration(conn, integ_id))  # type: ignore[arg-type]
    pipeline = CallPipeline(
        engine, RouteCache(tmp_path / "routes.json"), Spool(tmp_path / "spool"), time.time
    )
    listener = Listener(pipeline, integ, echo=lambda _line: None)
    listener.replay(_junk_stream())
    assert listener.stored == 2  # started and ended, both readable again
    tracker = CallTracker(lambda digits: "+74957770102" if digits.endswith("7770102") else None)
    events = [e for block in _junk_stream() for e in tracker.feed(block, time.time())]
    assert [(e.kind, e.caller, e.status) for e in events] == [
        ("started", None, None),
        ("ended", None, "busy"),  # the dial said so; the cause is junk, not a crash
    ]


@pytest.mark.parametrize("kind", ["generic", "twilio", "zadarma"])
def test_an_integration_id_that_is_not_printable_is_unknown(app: Any, kind: str) -> None:
    """A NUL in the id reached the database driver (PostgreSQL refuses it, which read as
    "database down": 503); it is simply no integration of ours."""
    body, form = b"event=NOTIFY_START&caller_id=1", {"Content-Type": FORM}
    json_body = {"Content-Type": "application/json"}
    r = post(
        app,
        f"/hooks/{kind}/int_%00abc",
        *((b"{}", json_body) if kind == "generic" else (body, form)),
    )
    assert r.status_code in (401, 403, 404), r.text
    assert r.status_code != 503
