"""Deals over the API end to end: a CRM's deal linked by the call, the visit code, the
caller's phone or the visitor id; the same external id updates instead of doubling;
money exact to the cent; hostile input refused with a reason; other accounts unseen."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from callpath.storage.tables import deals
from tests.helpers import Hook, Seeded, api_headers, iso, page_login, seed_site

PASSWORD = "correct horse battery"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CPC = "https://shop.example/?utm_source=yandex&utm_medium=cpc&utm_campaign=spring"
CALLER = "+79161234567"


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1)


@pytest.fixture
def crm(engine: Engine, site: Seeded) -> dict[str, str]:
    return api_headers(engine, site, "analyst")


def _visit(client: TestClient, site: Seeded) -> dict[str, Any]:
    body = json.dumps({"site": site.key, "url": CPC, "referrer": None})
    headers = {"Content-Type": "text/plain", "User-Agent": CHROME}
    r = client.post("/t/v1/session", content=body, headers=headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _call(client: TestClient, hook: Hook, to: str, call_id: str = "pbx-1") -> str:
    base = {"call_id": call_id, "caller": CALLER, "called": to}
    now = time.time()
    reply = hook.post(client, {**base, "event": "started", "at": iso(now)})
    assert reply.status_code == 200, reply.text
    hook.post(client, {**base, "event": "ended", "at": iso(now + 40), "talk": 30})
    return str(reply.json()["call"])


def _post(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/deals", json=body, headers=headers)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(deals)).scalar_one())


def test_a_deal_by_call_id_is_linked_to_the_visit_the_call_was_matched_to(
    client: TestClient, site: Seeded, hook: Hook, crm: dict[str, str]
) -> None:
    shown = _visit(client, site)
    call = _call(client, hook, shown["number"])
    r = _post(client, crm, amount="12500.50", status="won", call_id=call, title="Sofa")
    assert r.status_code == 201, r.text
    deal = r.json()
    assert deal["link"] == "call" and deal["call_id"] == call
    assert deal["session_id"] == shown["session"] and deal["visitor_id"] == shown["visitor"]
    assert deal["site_id"] == site.site_id and deal["currency"] == "RUB"
    assert deal["amount"] == "12500.50" and deal["status"] == "won"
    assert deal["closed_at"] is not None  # won without a time: closed now
    got = client.get(f"/api/v1/deals/{deal['id']}", headers=crm)
    assert got.status_code == 200 and got.json() == deal


def test_the_same_external_id_updates_the_deal_instead_of_doubling_it(
    client: TestClient, engine: Engine, site: Seeded, crm: dict[str, str]
) -> None:
    first = _post(client, crm, amount=100, site_id=site.site_id, external_id="crm-42")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "open" and first.json()["closed_at"] is None
    again = _post(
        client,
        crm,
        amount="250.10",
        status="won",
        closed_at="2026-03-01T12:00:00+03:00",
        site_id=site.site_id,
        external_id="crm-42",
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["amount"] == "250.10"
    assert again.json()["closed_at"] == "2026-03-01T09:00:00Z"
    assert again.json()["created_at"] == first.json()["created_at"]
    assert _count(engine) == 1


def test_one_new_external_id_posted_at_once_makes_one_deal(
    client: TestClient, engine: Engine, site: Seeded, crm: dict[str, str]
) -> None:
    def send(amount: int) -> int:
        r = _post(client, crm, amount=amount, site_id=site.site_id, external_id="crm-race")
        return int(r.status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(send, [10, 20, 30, 40]))
    assert sorted(codes) == [200, 200, 200, 201]
    assert _count(engine) == 1


def test_a_deal_by_visit_code_finds_the_visit_that_showed_it(
    client: TestClient, site: Seeded, crm: dict[str, str]
) -> None:
    _visit(client, site)  # takes the only pool number
    coded = _visit(client, site)
    assert coded["reason"] == "exhausted" and coded["visit_code"]
    r = _post(client, crm, amount=990, site_id=site.site_id, visit_code=coded["visit_code"])
    assert r.status_code == 201, r.text
    assert r.json()["link"] == "visit_code"
    assert r.json()["session_id"] == coded["session"]
    assert r.json()["visitor_id"] == coded["visitor"]
    unknown = "9" * len(coded["visit_code"])
    if unknown != coded["visit_code"]:
        r = _post(client, crm, amount=1, site_id=site.site_id, visit_code=unknown)
        assert r.status_code == 404 and "visit_code" in r.json()["error"]


def test_a_deal_by_the_callers_phone_takes_their_latest_call(
    client: TestClient, site: Seeded, hook: Hook, crm: dict[str, str]
) -> None:
    shown = _visit(client, site)
    call = _call(client, hook, shown["number"])
    r = _post(client, crm, amount=5, caller="8 (916) 123-45-67", site_id=site.site_id)
    assert r.status_code == 201, r.text
    assert r.json()["link"] == "caller" and r.json()["call_id"] == call
    assert r.json()["caller"] == CALLER
    # International form needs no site: the call names it.
    r = _post(client, crm, amount=5, caller=CALLER)
    assert r.status_code == 201 and r.json()["call_id"] == call
    # A phone that never called: the deal counts for the site only.
    r = _post(client, crm, amount=5, caller="+79160000000", site_id=site.site_id)
    assert r.status_code == 201 and r.json()["link"] == "none"
    assert r.json()["call_id"] is None


def test_a_deal_by_visitor_id_needs_a_visitor_the_site_has_seen(
    client: TestClient, site: Seeded, crm: dict[str, str]
) -> None:
    shown = _visit(client, site)
    r = _post(client, crm, amount=7, site_id=site.site_id, visitor_id=shown["visitor"])
    assert r.status_code == 201 and r.json()["link"] == "visitor"
    r = _post(client, crm, amount=7, site_id=site.site_id, visitor_id="v-nobody")
    assert r.status_code == 404 and "visitor_id" in r.json()["error"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"amount": -1}, 400, "amount"),
        ({"amount": "12.345"}, 400, "two decimal places"),
        ({"amount": "NaN"}, 400, "amount"),
        ({"amount": "1e30"}, 400, "amount"),
        ({"amount": True}, 422, "invalid request"),
        ({"amount": 1, "status": "maybe"}, 400, "status"),
        ({"amount": 1, "currency": "RU"}, 400, "currency"),
        ({"amount": 1, "closed_at": "2026-03-01T12:00:00"}, 400, "closed_at"),
        ({"amount": 1, "closed_at": "yesterday"}, 400, "closed_at"),
        ({"amount": 1, "site_id": None}, 400, "site"),
        ({"amount": 1, "call_id": "c" + "0" * 20}, 404, "call_id"),
        ({"amount": 1, "call_id": "../../etc"}, 404, "call_id"),
        ({"amount": 1, "caller": "not a phone"}, 400, "caller"),
        ({"amount": 1, "title": "nul\u0000here"}, 422, "invalid request"),
    ],
)
def test_bad_deals_are_refused_with_a_reason_and_nothing_stored(
    client: TestClient,
    engine: Engine,
    site: Seeded,
    crm: dict[str, str],
    body: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    sent = {"site_id": site.site_id, **body}
    if "site_id" in body and body["site_id"] is None:
        sent.pop("site_id")
    r = client.post("/api/v1/deals", json=sent, headers=crm)
    assert r.status_code == status, r.text
    assert reason in r.text
    assert _count(engine) == 0


def test_operators_and_other_accounts_see_no_deals(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, crm: dict[str, str]
) -> None:
    shown = _visit(client, site)
    call = _call(client, hook, shown["number"])
    made = _post(client, crm, amount=1, call_id=call).json()
    operator = api_headers(engine, site, "operator")
    assert _post(client, operator, amount=1, site_id=site.site_id).status_code == 403
    assert client.get("/api/v1/deals", headers=operator).status_code == 403
    other_site = seed_site(engine, pool_size=0)
    stranger = api_headers(engine, other_site, "owner")
    assert client.get(f"/api/v1/deals/{made['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/deals", headers=stranger).json()["items"] == []
    # Another account's call and site cannot be named either.
    assert _post(client, stranger, amount=1, call_id=call).status_code == 404
    r = _post(client, stranger, amount=1, site_id=site.site_id)
    assert r.status_code == 404
    assert _count(engine) == 1


def test_deals_are_listed_in_pages_filtered_by_site_and_status(
    client: TestClient, site: Seeded, crm: dict[str, str]
) -> None:
    for i in range(5):
        status = "won" if i % 2 else "open"
        r = _post(client, crm, amount=i, status=status, site_id=site.site_id)
        assert r.status_code == 201
    page = client.get("/api/v1/deals?limit=2", headers=crm).json()
    assert [d["amount"] for d in page["items"]] == ["0.00", "1.00"]
    rest = client.get(f"/api/v1/deals?cursor={page['next_cursor']}", headers=crm).json()
    assert [d["amount"] for d in rest["items"]] == ["2.00", "3.00", "4.00"]
    assert rest["next_cursor"] is None
    won = client.get(f"/api/v1/deals?status=won&site_id={site.site_id}", headers=crm).json()
    assert [d["amount"] for d in won["items"]] == ["1.00", "3.00"]
    assert client.get("/api/v1/deals?status=maybe", headers=crm).status_code == 422
    assert client.get("/api/v1/deals?cursor=x", headers=crm).status_code == 400


def test_a_deal_is_entered_on_the_calls_page(
    app: Any,
    client: TestClient,
    engine: Engine,
    site: Seeded,
    hook: Hook,
    crm: dict[str, str],
) -> None:
    shown = _visit(client, site)
    call = _call(client, hook, shown["number"])
    page = page_login(app, engine, site, "analyst")
    before = page.get(f"/app/calls/{call}")
    assert before.status_code == 200 and 'id="deals"' in before.text
    origin = {"Origin": "http://testserver"}
    r = page.post(
        f"/app/calls/{call}/deals",
        data={"amount": "12\u00a0500,50", "status": "won", "title": "Sofa"},
        headers=origin,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    after = page.get(f"/app/calls/{call}")
    assert "Sofa" in after.text and "12500.50 RUB" in after.text
    listed = client.get("/api/v1/deals", headers=crm).json()["items"]
    assert [(d["call_id"], d["session_id"], d["amount"]) for d in listed] == [
        (call, shown["session"], "12500.50")
    ]
    bad = page.post(f"/app/calls/{call}/deals", data={"amount": "-3"}, headers=origin)
    assert bad.status_code == 400 and 'id="deal-error"' in bad.text
    assert "amount" in bad.text
    assert _count(engine) == 1


def test_operators_neither_see_nor_enter_deals_on_a_call(
    app: Any, client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    shown = _visit(client, site)
    call = _call(client, hook, shown["number"])
    page = page_login(app, engine, site, "operator")
    assert 'id="deals"' not in page.get(f"/app/calls/{call}").text
    r = page.post(
        f"/app/calls/{call}/deals",
        data={"amount": "1"},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 403
    assert _count(engine) == 0
