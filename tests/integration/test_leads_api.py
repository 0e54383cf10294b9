"""Leads end to end: every call reported through a webhook becomes a lead classified by
its site's rules (first-time, target, missed, abandoned, lost or got through, spam); a
rule or block-list change classifies history again without touching the calls; bad
input is refused with a reason; other accounts and narrower roles see nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.services import leads as leads_service
from callpath.storage.tables import calls, leads
from tests.helpers import Hook, Seeded, api_headers, iso, page_login, seed_site, wait_for

CALLER = "+79161234567"
T0 = time.time() - 3 * 3600  # three hours ago: room for calls an hour apart


@pytest.fixture
def admin(engine: Engine, site: Seeded) -> dict[str, str]:
    return api_headers(engine, site, "admin")


def _call(
    client: TestClient,
    hook: Hook,
    site: Seeded,
    pbx_id: str,
    at: float,
    *,
    talk: float = 0,
    length: float = 60,
    caller: str | None = CALLER,
) -> str:
    base = {"call_id": pbx_id, "caller": caller, "called": site.default}
    started = hook.post(client, {**base, "event": "started", "at": iso(at)})
    assert started.status_code == 200, started.text
    status = "answered" if talk else "missed"
    ended = {**base, "event": "ended", "at": iso(at + length), "talk": talk, "status": status}
    assert hook.post(client, ended).status_code == 200
    return str(started.json()["call"])


def _due(client: TestClient) -> None:
    """What the apply process or the call worker does between rounds (the worker's own
    run is tested below): the leads of the calls saved meanwhile."""
    leads_service.classify_due(client.app.state.ctx.engine, time.time)  # type: ignore[attr-defined]


def _leads(client: TestClient, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    _due(client)
    r = client.get("/api/v1/leads?limit=500", headers=headers)
    assert r.status_code == 200, r.text
    return {lead["call_id"]: lead for lead in r.json()["items"]}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_every_call_becomes_a_lead_classified_by_the_sites_rules(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    missed = _call(client, hook, site, "p1", T0, length=3)
    through = _call(client, hook, site, "p2", T0 + 1200, talk=45)
    short = _call(client, hook, site, "p3", T0 + 7200, talk=12)
    hidden = _call(client, hook, site, "p4", T0 + 7300, caller=None, length=50)
    found = _leads(client, admin)
    assert set(found) == {missed, through, short, hidden}
    first = found[missed]
    assert first["first_time"] and first["missed"] and first["abandoned"]
    assert not first["lost"] and first["recovered_after"] == pytest.approx(1200, abs=1)
    second = found[through]
    assert not second["first_time"] and second["target"] and not second["missed"]
    assert not found[short]["target"]  # 12 s of talk: under the 30 s rule
    assert found[hidden]["first_time"] and found[hidden]["lost"]  # no caller id: alone
    assert not any(lead["spam"] for lead in found.values())
    assert all(lead["value"] == [] for lead in found.values())  # no deal yet
    for amount, status in (("2500.50", "won"), ("100", "lost"), ("99.50", "won")):
        deal = {"call_id": through, "amount": amount, "status": status}
        assert client.post("/api/v1/deals", json=deal, headers=admin).status_code == 201
    valued = _leads(client, admin)
    assert valued[through]["value"] == [{"amount": "2600.00", "currency": "RUB"}]
    assert valued[missed]["value"] == []


def test_a_missed_caller_called_back_by_the_business_is_not_lost(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    missed = _call(client, hook, site, "m1", T0, length=30)
    base = {"call_id": "o1", "caller": site.default, "called": CALLER, "direction": "outbound"}
    started = hook.post(client, {**base, "event": "started", "at": iso(T0 + 600)})
    assert started.status_code == 200, started.text
    assert "forward_to" not in started.json()  # the business's own call: not ours to route
    ended = {**base, "event": "ended", "at": iso(T0 + 700), "talk": 80, "status": "answered"}
    assert hook.post(client, ended).status_code == 200
    out = str(started.json()["call"])
    found = _leads(client, admin)
    assert set(found) == {missed}  # a call out is no lead
    assert found[missed]["called_back_after"] == pytest.approx(600, abs=1)
    assert not found[missed]["lost"] and found[missed]["recovered_after"] is None
    call = client.get(f"/api/v1/calls/{out}", headers=admin).json()
    assert (call["direction"], call["caller"], call["tracking_number"]) == (
        "outbound",
        CALLER,
        site.default,
    )
    assert call["match"]["method"] == "outbound" and call["session_id"] is None
    since, until = (time.strftime("%Y-%m-%d", time.gmtime(T0 + d)) for d in (-86_400, 86_400))
    center = client.get(
        f"/api/v1/reports/call-center?site={site.key}&from={since}&to={until}", headers=admin
    )
    assert center.status_code == 200, center.text
    summary = center.json()["summary"]
    assert (summary["calls"], summary["missed"], summary["called_back"]) == (1, 1, 1)
    assert center.json()["missed_callers"][0]["status"] == "called back"
    bad = hook.post(client, {**base, "call_id": "o2", "event": "started", "direction": "up"})
    assert bad.status_code == 400 and "direction" in bad.json()["error"]


def test_a_later_call_changes_what_an_earlier_one_counts_as(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    missed = _call(client, hook, site, "p1", T0, length=30)
    assert _leads(client, admin)[missed]["lost"] is True
    _call(client, hook, site, "p2", T0 + 600, talk=90)
    assert _leads(client, admin)[missed]["lost"] is False


def test_a_silent_burst_is_spam_and_a_blocked_number_is_spam(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    burst = [_call(client, hook, site, f"b{i}", T0 + i * 60, length=2) for i in range(3)]
    found = _leads(client, admin)
    assert all(found[c]["spam"] and not found[c]["lost"] for c in burst)
    assert found[burst[0]]["spam_reason"] == "3 calls without talk within 10 min"
    page = page_login(client.app, engine, site, "operator").get(f"/app/calls/{burst[1]}")
    assert page.status_code == 200
    assert "<strong>Spam</strong> 1.00: 3 calls without talk within 10 min" in page.text
    assert (
        "missed, hung up while ringing" in page.text and "(not set) / (not set) 100%" in page.text
    )
    other = "+79169990000"
    answered = _call(client, hook, site, "o1", T0 + 3600, talk=120, caller=other)
    assert _leads(client, admin)[answered]["target"] is True
    r = client.post("/api/v1/blocked-numbers", json={"number": other}, headers=admin)
    assert r.status_code == 201 and r.json() == {"number": other}
    calls_before = _count(engine, calls)
    r = client.post(
        f"/api/v1/sites/{site.site_id}/leads/classify",
        json={"from": iso(T0 - 60), "to": iso(time.time() + 60)},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["classified"] == 4
    lead = _leads(client, admin)[answered]
    assert lead["spam"] and not lead["target"]
    assert lead["spam_reason"] == "the number is on the account's block list"
    assert _count(engine, calls) == calls_before  # history re-derived, calls untouched
    listed = client.get("/api/v1/blocked-numbers", headers=admin).json()["items"]
    assert [b["e164"] for b in listed] == [other]
    gone = client.delete(f"/api/v1/blocked-numbers/{other}", headers=admin)
    assert gone.status_code == 200
    assert client.delete(f"/api/v1/blocked-numbers/{other}", headers=admin).status_code == 404


def test_a_rule_change_reclassifies_the_chosen_period_only(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    early = _call(client, hook, site, "p1", T0, talk=40)
    late = _call(client, hook, site, "p2", T0 + 7200, talk=40, caller="+79160000001")
    assert _leads(client, admin)[early]["target"] and _leads(client, admin)[late]["target"]
    rules = f"/api/v1/sites/{site.site_id}/lead-rules"
    r = client.patch(rules, json={"target_talk": 60}, headers=admin)
    assert r.status_code == 200 and r.json()["target_talk"] == 60
    assert client.get(rules, headers=admin).json()["target_talk"] == 60
    r = client.post(
        f"/api/v1/sites/{site.site_id}/leads/classify",
        json={"from": iso(T0 + 3600), "to": iso(time.time() + 60)},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["classified"] == 1
    found = _leads(client, admin)
    assert found[early]["target"] is True  # outside the period: as it was
    assert found[late]["target"] is False


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"target_talk": -1}, 422, "invalid request"),
        ({"target_talk": "30"}, 422, "invalid request"),
        ({"spam_burst_calls": 1}, 422, "invalid request"),
        ({"target_first_time_only": 1}, 422, "invalid request"),
        ({"target_tlak": 30}, 422, "invalid request"),
        ({"callback_minutes": None}, 400, "callback_minutes"),
    ],
)
def test_bad_rules_are_refused_and_the_rules_kept(
    client: TestClient,
    site: Seeded,
    admin: dict[str, str],
    body: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    rules = f"/api/v1/sites/{site.site_id}/lead-rules"
    before = client.get(rules, headers=admin).json()
    r = client.patch(rules, json=body, headers=admin)
    assert r.status_code == status, r.text
    assert reason in r.text
    assert client.get(rules, headers=admin).json() == before


def test_bad_periods_and_numbers_are_refused(
    client: TestClient, site: Seeded, admin: dict[str, str]
) -> None:
    url = f"/api/v1/sites/{site.site_id}/leads/classify"
    backwards = client.post(url, json={"from": "2026-03-02", "to": "2026-03-01"}, headers=admin)
    assert backwards.status_code == 400
    nonsense = client.post(url, json={"from": "soon", "to": "2026-03-01"}, headers=admin)
    assert nonsense.status_code == 400
    r = client.post("/api/v1/blocked-numbers", json={"number": "8 916 123"}, headers=admin)
    assert r.status_code == 400 and "number" in r.json()["error"]
    assert client.get("/api/v1/leads?cursor=x:y", headers=admin).status_code == 400


def test_narrow_roles_and_other_accounts_see_no_leads(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    _call(client, hook, site, "p1", T0, talk=40)
    _due(client)
    operator = api_headers(engine, site, "operator")
    assert client.get("/api/v1/leads", headers=operator).status_code == 403
    analyst = api_headers(engine, site, "analyst")
    assert len(client.get("/api/v1/leads", headers=analyst).json()["items"]) == 1
    rules = f"/api/v1/sites/{site.site_id}/lead-rules"
    assert client.patch(rules, json={"target_talk": 5}, headers=analyst).status_code == 403
    stranger = api_headers(engine, seed_site(engine, pool_size=0), "owner")
    assert client.get("/api/v1/leads", headers=stranger).json()["items"] == []
    assert client.get(rules, headers=stranger).status_code == 404
    r = client.post(
        f"/api/v1/sites/{site.site_id}/leads/classify",
        json={"from": "2026-01-01", "to": "2026-12-31"},
        headers=stranger,
    )
    assert r.status_code == 404
    assert _count(engine, leads) == 1


def test_leads_are_paged_newest_first(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    made = [
        _call(client, hook, site, f"p{i}", T0 + i * 600, talk=40, caller=f"+7916000000{i}")
        for i in range(5)
    ]
    _due(client)
    page = client.get("/api/v1/leads?limit=2", headers=admin).json()
    assert [lead["call_id"] for lead in page["items"]] == made[:-3:-1]
    rest = client.get(f"/api/v1/leads?cursor={page['next_cursor']}", headers=admin).json()
    assert [lead["call_id"] for lead in rest["items"]] == made[2::-1]
    assert rest["next_cursor"] is None


def test_the_command_classifies_history_again_and_refuses_bad_days(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str], database_url: str
) -> None:
    call = _call(client, hook, site, "p1", T0, talk=40)
    assert _leads(client, admin)[call]["target"] is True
    rules = f"/api/v1/sites/{site.site_id}/lead-rules"
    client.patch(rules, json={"target_talk": 60}, headers=admin)
    assert _leads(client, admin)[call]["target"] is True  # rules changed, history not yet
    env = {"CALLPATH_DATABASE_URL": database_url}
    done = CliRunner().invoke(cli_app, ["leads", "classify", "--site", site.key], env=env)
    assert done.exit_code == 0, done.output
    assert f"classified 1 calls of site {site.key}" in done.output
    assert _leads(client, admin)[call]["target"] is False
    for args in (["--from", "yesterday"], ["--from", "2026-03-02", "--to", "2026-03-01"]):
        bad = CliRunner().invoke(cli_app, ["leads", "classify", "--site", site.key, *args], env=env)
        assert bad.exit_code == 2 and "error:" in bad.output and "Traceback" not in bad.output
    unknown = CliRunner().invoke(cli_app, ["leads", "classify", "--site", "nope"], env=env)
    assert unknown.exit_code == 2


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def _visit(client: TestClient, site: Seeded, url: str, visitor: str | None = None) -> Any:
    body = {"site": site.key, "url": url, "referrer": None, "visitor": visitor}
    r = client.post(
        "/t/v1/session",
        content=json.dumps(body),
        headers={"Content-Type": "text/plain", "User-Agent": CHROME},
    )
    assert r.status_code == 200, r.text
    return r.json()


def _to(client: TestClient, hook: Hook, number: str, pbx_id: str, caller: str = CALLER) -> str:
    now = time.time()
    base = {"call_id": pbx_id, "caller": caller, "called": number}
    started = hook.post(client, {**base, "event": "started", "at": iso(now)})
    ended = {**base, "event": "ended", "at": iso(now + 60), "talk": 50, "status": "answered"}
    assert hook.post(client, ended).status_code == 200
    return str(started.json()["call"])


def _credits(client: TestClient, headers: dict[str, str], call: str, model: str) -> Any:
    _due(client)
    r = client.get(f"/api/v1/leads?model={model}", headers=headers)
    assert r.status_code == 200, r.text
    lead = next(i for i in r.json()["items"] if i["call_id"] == call)
    return [(c["source"], c["medium"], c["share"]) for c in lead["credits"]]


def test_each_lead_is_credited_to_its_journey_under_every_model(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    token = admin
    cpc = _visit(client, site, "https://shop.example/?utm_source=yandex&utm_medium=cpc")
    direct = _visit(client, site, "https://shop.example/", visitor=cpc["visitor"])
    assert direct["visitor"] == cpc["visitor"]
    call = _to(client, hook, direct["number"], "j1")
    assert _credits(client, token, call, "last_non_direct") == [("yandex", "cpc", 1.0)]
    assert _credits(client, token, call, "first_touch") == [("yandex", "cpc", 1.0)]
    assert _credits(client, token, call, "last_touch") == [("(direct)", "(none)", 1.0)]
    assert _credits(client, token, call, "linear") == [
        ("yandex", "cpc", 0.5),
        ("(direct)", "(none)", 0.5),
    ]
    # The same person on a phone: a new visitor, the same caller id; the journey joins.
    phone = _visit(client, site, "https://shop.example/?utm_source=vk&utm_medium=social")
    second = _to(client, hook, phone["number"], "j2")
    assert _credits(client, token, second, "first_touch") == [("yandex", "cpc", 1.0)]
    assert _credits(client, token, second, "last_touch") == [("vk", "social", 1.0)]
    assert client.get("/api/v1/leads?model=magic", headers=token).status_code == 422


def test_a_call_matched_to_no_visit_credits_its_own_channel(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    call = _call(client, hook, site, "p1", T0, talk=40)  # to the default number
    assert _credits(client, admin, call, "last_non_direct") == [("(not set)", "(not set)", 1.0)]


def test_the_servers_call_worker_classifies_new_calls_by_itself(
    app: Any, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    with TestClient(app) as running:  # the app's lifespan: its call worker runs
        call = _call(running, hook, site, "w1", T0, talk=40)

        def classified() -> bool:
            r = running.get("/api/v1/leads", headers=admin)
            return any(i["call_id"] == call and i["target"] for i in r.json()["items"])

        assert wait_for(classified, 60)


def test_a_call_that_changes_after_its_lead_was_written_is_classified_again(
    client: TestClient, site: Seeded, hook: Hook, admin: dict[str, str]
) -> None:
    base = {"call_id": "late-end", "caller": CALLER, "called": site.default}
    started = hook.post(client, {**base, "event": "started", "at": iso(T0)})
    call = str(started.json()["call"])
    ringing = _leads(client, admin)[call]
    assert not ringing["missed"] and not ringing["lost"]  # still ringing: not missed yet
    ended = {**base, "event": "ended", "at": iso(T0 + 30), "status": "missed"}
    assert hook.post(client, ended).status_code == 200
    over = _leads(client, admin)[call]
    assert over["missed"] and over["lost"]
