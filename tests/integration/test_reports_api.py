"""Analytics reports end to end on a journey set small enough to check by hand.

Three visitors in November 2026 (Moscow time), their calls and one deal, and spend:

- A: yandex/cpc "brand" on the 2nd, back direct on the 5th, calls then (answered, 120 s
  talk: a target call); the call became a won deal of 10,000 RUB;
- B: google/cpc "generic" on the 3rd, calls (answered, 10 s: not a target call);
- C: vk/social on the 4th, google/cpc "generic" on the 6th, calls (missed);
- spend: yandex "brand" 3,000; google "generic" 2 x 2,000; facebook/cpc 500 (spend and
  nothing else: wasted).

The calls and visits are written as rows (the history the tracker and the webhooks would
have left); classifying them, crediting the journeys and every figure of the reports is
the product's own work.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select, update

from callpath.services import leads as leads_service
from callpath.storage.db import transaction
from callpath.storage.tables import (
    callbacks_handled,
    calls,
    costs,
    deals,
    sessions,
    tracking_numbers,
)
from tests.helpers import Hook, Seeded, api_headers, page_login, seed_site

MSK = ZoneInfo("Europe/Moscow")
PERIOD = "from=2026-11-01&to=2026-11-30"


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=MSK).timestamp()


VISITS = [  # id, visitor, time, source, medium, campaign, device
    ("a1", "A", at(2, 10), "yandex", "cpc", "brand", "desktop"),
    ("a2", "A", at(5, 12), "(direct)", "(none)", None, "desktop"),
    ("b1", "B", at(3, 9), "google", "cpc", "generic", "mobile"),
    ("c1", "C", at(4, 15), "vk", "social", None, "mobile"),
    ("c2", "C", at(6, 18), "google", "cpc", "generic", "mobile"),
]
CALLS = [  # id, visitor, session, time, caller, talk (None: missed)
    ("cA", "A", "a2", at(5, 12, 10), "+79160000001", 120.0),
    ("cB", "B", "b1", at(3, 9, 5), "+79160000002", 10.0),
    ("cC", "C", "c2", at(6, 18, 3), "+79160000003", None),
]
SPEND = [  # day, source, medium, campaign, rubles
    ("2026-11-02", "yandex", "cpc", "brand", 3000),
    ("2026-11-03", "google", "cpc", "generic", 2000),
    ("2026-11-06", "google", "cpc", "generic", 2000),
    ("2026-11-04", "facebook", "cpc", "", 500),
]


def _history(engine: Engine, site: Seeded, hook: Hook) -> None:
    with transaction(engine) as conn:
        n = tracking_numbers.c
        number = conn.execute(select(n.id).where(n.e164 == site.pool[0])).scalar_one()
        conn.execute(insert(sessions), [_session(site, *v) for v in VISITS])
        conn.execute(insert(calls), [{**_call(site, hook, *c), "number_id": number} for c in CALLS])
        conn.execute(insert(costs), [_cost(site, *s) for s in SPEND])
        conn.execute(
            insert(deals),
            [
                {
                    "account_id": site.account_id,
                    "site_id": site.site_id,
                    "amount_cents": 1_000_000,
                    "currency": "RUB",
                    "status": "won",
                    "closed_at": at(20, 12),
                    "link": "call",
                    "call_id": "cA",
                    "session_id": "a2",
                    "visitor_id": "A",
                    "created_at": at(20, 12),
                    "updated_at": at(20, 12),
                },
                {  # in dollars: never summed with roubles
                    "account_id": site.account_id,
                    "site_id": site.site_id,
                    "amount_cents": 50_000,
                    "currency": "USD",
                    "status": "won",
                    "closed_at": at(21, 12),
                    "link": "call",
                    "call_id": "cB",
                    "session_id": "b1",
                    "visitor_id": "B",
                    "created_at": at(21, 12),
                    "updated_at": at(21, 12),
                },
            ],
        )
        leads_service.classify_period(
            conn, site.account_id, site.site_id, at(1, 0), at(30, 23), time.time()
        )


def _session(site: Seeded, sid: str, visitor: str, t: float, *channel: Any) -> dict[str, Any]:
    source, medium, campaign, device = channel
    return {
        "id": sid,
        "account_id": site.account_id,
        "site_id": site.site_id,
        "visitor_id": visitor,
        "started_at": t,
        "last_seen_at": t + 60,
        "landing_url": f"https://shop.example/{sid[0]}?utm_source={source}",
        "source": source,
        "medium": medium,
        "campaign": campaign,
        "utm": {},
        "click_ids": {},
        "client_ids": {},
        "device": device,
        "country": "RU",
        "number_reason": "pool",
    }


def _call(
    site: Seeded,
    hook: Hook,
    cid: str,
    visitor: str,
    sid: str,
    t: float,
    caller: str,
    talk: float | None,
) -> dict[str, Any]:
    answered = talk is not None
    return {
        "id": cid,
        "account_id": site.account_id,
        "integration_id": hook.integration_id,
        "provider_call_id": cid,
        "site_id": site.site_id,
        "tracking_number": site.pool[0],
        "caller": caller,
        "state": "ended",
        "status": "answered" if answered else "missed",
        "started_at": t,
        "answered_at": t + 8 if answered else None,
        "ended_at": t + 8 + (talk or 20),
        "duration": 8 + (talk or 20),
        "talk": talk or 0.0,
        "wait": 8.0 if answered else 28.0,
        "session_id": sid,
        "visitor_id": visitor,
        "match_method": "pool",
        "confidence": 0.95,
        "alternatives": [],
        "repeat": False,
        "updated_at": t + 60,
    }


def _cost(site: Seeded, day: str, source: str, medium: str, campaign: str, rub: int) -> Any:
    return {
        "account_id": site.account_id,
        "site_id": site.site_id,
        "origin": "csv",
        "day": day,
        "source": source,
        "medium": medium,
        "campaign": campaign,
        "term": "",
        "content": "",
        "amount_cents": rub * 100,
        "imported_at": time.time(),
    }


@pytest.fixture
def token(engine: Engine, site: Seeded, hook: Hook) -> dict[str, str]:
    _history(engine, site, hook)
    return api_headers(engine, site, "analyst")


def _report(client: TestClient, token: dict[str, str], query: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/reports/{query}", headers=token)
    assert r.status_code == 200, r.text
    return dict(r.json())


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{r['source']}/{r['medium']}": r for r in report["rows"]}


def test_channels_last_non_direct_hand_checked(
    client: TestClient, site: Seeded, token: dict[str, str]
) -> None:
    report = _report(client, token, f"channels?site={site.key}&{PERIOD}")
    assert report["model"] == "last_non_direct" and report["group"] == "source"
    rows = _rows(report)
    assert set(rows) == {"yandex/cpc", "google/cpc", "(direct)/(none)", "vk/social", "facebook/cpc"}
    y, g, f = rows["yandex/cpc"], rows["google/cpc"], rows["facebook/cpc"]
    assert (y["visits"], y["calls"], y["target"], y["won"], y["revenue"]) == (1, 1, 1, 1, 10000)
    assert (y["cost"], y["cpl"], y["roi"], y["drr"]) == (3000, 3000, 233.33, 30.0)
    assert (g["visits"], g["visitors"], g["calls"], g["answered"], g["missed"]) == (2, 2, 2, 1, 1)
    assert (g["target"], g["cost"], g["cpl"], g["roi"], g["revenue"]) == (0, 4000, 2000, -100, 0)
    assert (f["visits"], f["calls"], f["cost"], f["cpl"]) == (0, 0, 500, None)
    assert rows["(direct)/(none)"]["calls"] == 0 and rows["vk/social"]["visits"] == 1
    totals = report["totals"]
    assert (totals["visits"], totals["visitors"], totals["calls"]) == (5, 3, 3)
    assert (totals["cost"], totals["revenue"], totals["cpl"]) == (7500, 10000, 2500)
    for name in ("visits", "calls", "target", "cost", "revenue", "leads"):
        assert sum(r[name] for r in report["rows"]) == pytest.approx(totals[name])
    assert any("USD" not in n and "another currency" in n for n in report["notes"])


def test_bots_are_no_visits_whatever_number_they_were_shown(
    client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    """A crawler's session (told by its user agent) counts nowhere, even on a site whose
    policy showed it a pool number like anyone else's."""
    bot = _session(site, "z1", "Z", at(7, 3), "google", "cpc", "generic", "bot")
    with transaction(engine) as conn:
        conn.execute(insert(sessions), [bot])
    report = _report(client, token, f"channels?site={site.key}&{PERIOD}")
    assert _rows(report)["google/cpc"]["visits"] == 2
    assert (report["totals"]["visits"], report["totals"]["visitors"]) == (5, 3)
    devices = _report(client, token, f"devices?site={site.key}&{PERIOD}")
    assert "bot" not in {r["device"] for r in devices["rows"]}


def test_first_touch_and_linear_move_the_credit(
    client: TestClient, site: Seeded, token: dict[str, str]
) -> None:
    first = _rows(_report(client, token, f"channels?site={site.key}&{PERIOD}&model=first_touch"))
    assert (first["google/cpc"]["calls"], first["google/cpc"]["cpl"]) == (1, 4000)
    assert (first["vk/social"]["calls"], first["yandex/cpc"]["calls"]) == (1, 1)
    linear = _rows(_report(client, token, f"channels?site={site.key}&{PERIOD}&model=linear"))
    assert linear["yandex/cpc"]["calls"] == 0.5 and linear["(direct)/(none)"]["calls"] == 0.5
    assert linear["yandex/cpc"]["revenue"] == 5000 and linear["yandex/cpc"]["roi"] == 66.67
    assert linear["google/cpc"]["calls"] == 1.5 and linear["vk/social"]["calls"] == 0.5
    side = _report(client, token, f"models?site={site.key}&{PERIOD}")
    google = next(r for r in side["rows"] if r["source"] == "google")
    assert (google["calls_first_touch"], google["calls_last_non_direct"]) == (1, 2)
    assert (google["calls_linear"], google["cost"]) == (1.5, 4000)


def test_drill_down_filters_and_other_dimensions(
    client: TestClient, site: Seeded, token: dict[str, str]
) -> None:
    q = f"site={site.key}&{PERIOD}"
    campaigns = _report(client, token, f"channels?{q}&group=campaign&source=google")
    assert [(r["campaign"], r["calls"], r["cost"]) for r in campaigns["rows"]] == [
        ("generic", 2, 4000)
    ]
    devices = {r["device"]: r for r in _report(client, token, f"devices?{q}")["rows"]}
    assert (devices["mobile"]["visits"], devices["mobile"]["calls"]) == (3, 2)
    assert devices["desktop"]["calls"] == 1 and devices["desktop"]["cost"] is None
    mobile = _report(client, token, f"channels?{q}&device=mobile")
    assert mobile["totals"]["calls"] == 2 and mobile["totals"]["cost"] is None
    pages = {r["landing"]: r["calls"] for r in _report(client, token, f"landing-pages?{q}")["rows"]}
    assert pages == {
        "https://shop.example/a": 1,
        "https://shop.example/b": 1,
        "https://shop.example/c": 1,
    }
    days = _report(client, token, f"timeline?{q}&group=week")
    weeks = {r["period"]: (r["calls"], r["cost"]) for r in days["rows"]}
    # 1 November 2026 is a Sunday: its week began on 26 October.
    assert weeks == {
        "2026-10-26": (0, 0),
        "2026-11-02": (3, 7500),
        "2026-11-09": (0, 0),
        "2026-11-16": (0, 0),
        "2026-11-23": (0, 0),
        "2026-11-30": (0, 0),
    }
    assert len(_report(client, token, f"timeline?{q}")["rows"]) == 30


def test_geo_by_country_region_and_city(
    client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    with transaction(engine) as conn:
        n = sessions.c
        conn.execute(
            update(sessions).where(n.visitor_id == "A").values(region="Moscow", city="Moscow")
        )
        conn.execute(
            update(sessions).where(n.visitor_id == "C").values(region="Tatarstan", city="Kazan")
        )
    q = f"site={site.key}&{PERIOD}"
    cities = _report(client, token, f"geo?{q}&group=city")
    got = {
        (r["country"], r["region"], r["city"]): (r["visits"], r["calls"]) for r in cities["rows"]
    }
    assert got == {
        ("RU", "Moscow", "Moscow"): (2, 1),
        ("RU", "Tatarstan", "Kazan"): (2, 1),
        ("RU", "(not set)", "(not set)"): (1, 1),
    }
    kazan = _report(client, token, f"channels?{q}&city=Kazan")
    assert {(r["source"], r["calls"]) for r in kazan["rows"]} == {("google", 1), ("vk", 0)}
    countries = _report(client, token, f"geo?{q}")
    assert [(r["country"], r["calls"]) for r in countries["rows"]] == [("RU", 3)]


def test_call_center_and_journey(client: TestClient, site: Seeded, token: dict[str, str]) -> None:
    q = f"site={site.key}&{PERIOD}"
    center = _report(client, token, f"call-center?{q}")
    assert center["summary"]["calls"] == 3 and center["summary"]["answer_rate"] == 66.67
    assert center["summary"]["average_wait_to_answer"] == 8.0
    assert center["heatmap"]["missed"][4][18] == 1  # Friday 18:00 Moscow
    assert [c["caller"] for c in center["missed_callers"]] == ["+79160000003"]
    story = _report(client, token, f"journey?site={site.key}&visitor=A")
    kinds = [
        (e["kind"], e.get("session_id") or e.get("id") or e.get("deal_id")) for e in story["events"]
    ]
    assert [k for k, _ in kinds] == ["visit", "visit", "call", "deal"]
    call = story["events"][2]
    assert call["credits"]["linear"] == [
        {"session_id": "a1", "source": "yandex", "medium": "cpc", "share": 0.5},
        {"session_id": "a2", "source": "(direct)", "medium": "(none)", "share": 0.5},
    ]


def test_files_are_what_the_json_says(
    client: TestClient, site: Seeded, token: dict[str, str]
) -> None:
    q = f"channels?site={site.key}&{PERIOD}"
    data = _report(client, token, q)
    r = client.get(f"/api/v1/reports/{q}&format=csv&sep=;", headers=token)
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert lines[0] == data["columns"] and len(lines) == len(data["rows"]) + 2
    assert lines[-1][0] == "Total"
    x = client.get(f"/api/v1/reports/{q}&format=xlsx", headers=token)
    assert x.status_code == 200 and zipfile.is_zipfile(io.BytesIO(x.content))
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(x.content)).active
    assert [c.value for c in sheet[1]] == data["columns"]
    assert sheet.max_row == len(data["rows"]) + 2


def test_formulas_in_channel_names_stay_text(
    client: TestClient, engine: Engine, site: Seeded, hook: Hook
) -> None:
    token = api_headers(engine, site, "admin")
    with transaction(engine) as conn:
        conn.execute(
            insert(sessions), [_session(site, "z1", "Z", at(7, 9), "=HYPERLINK(1)", "@x", None, "")]
        )
    q = f"channels?site={site.key}&{PERIOD}"
    text = client.get(f"/api/v1/reports/{q}&format=csv", headers=token).content.decode()
    assert "'=HYPERLINK(1)" in text and "'@x" in text
    from openpyxl import load_workbook

    x = client.get(f"/api/v1/reports/{q}&format=xlsx", headers=token)
    cell = load_workbook(io.BytesIO(x.content)).active["A2"]
    assert cell.value == "=HYPERLINK(1)" and cell.data_type == "s"


@pytest.mark.parametrize(
    "query",
    [
        "channels?site={key}&colour=red",
        "channels?site={key}&from=2026-13-01",
        "channels?site={key}&from=2026-11-05&to=2026-11-01",
        "channels?site={key}&model=magic",
        "channels?site={key}&group=city",
        "channels?site={key}&sort=nonsense",
        "channels?site={key}&limit=0",
        "channels?site={key}&format=pdf",
        "channels?site={key}&source=a&source=b",
        "channels",
        "journey?site={key}",
        "journey?site={key}&call=cA&visitor=A",
        "call-center?site={key}&model=linear",
    ],
)
def test_bad_parameters_are_a_400_with_a_reason(
    client: TestClient, site: Seeded, token: dict[str, str], query: str
) -> None:
    r = client.get("/api/v1/reports/" + query.format(key=site.key), headers=token)
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_other_accounts_and_operators_see_no_reports(
    client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    other = seed_site(engine, pool_size=1)
    theirs = api_headers(engine, other, "admin")
    r = client.get(f"/api/v1/reports/channels?site={site.key}", headers=theirs)
    assert r.status_code == 404
    r = client.get(f"/api/v1/reports/channels?site={site.site_id}", headers=theirs)
    assert r.status_code == 404
    assert client.get("/api/v1/reports/nosuch?site=1", headers=token).status_code == 404
    operator = api_headers(engine, site, "operator")
    assert (
        client.get(f"/api/v1/reports/channels?site={site.key}", headers=operator).status_code == 403
    )
    center = client.get(f"/api/v1/reports/call-center?site={site.key}&{PERIOD}", headers=operator)
    assert center.status_code == 200
    assert client.get(f"/api/v1/reports/channels?site={site.key}").status_code == 401


def test_a_static_numbers_monthly_cost_is_spread_over_its_channel(
    client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    with transaction(engine) as conn:
        conn.execute(
            insert(tracking_numbers),
            [
                {
                    "account_id": site.account_id,
                    "site_id": site.site_id,
                    "e164": "+74950000999",
                    "kind": "static",
                    "label": "billboard",
                    "channel_source": "billboard",
                    "channel_medium": "offline",
                    "monthly_cost": 3000.0,
                    "active": True,
                    "created_at": at(1, 0) - 86_400 * 60,
                }
            ],
        )
    rows = _rows(_report(client, token, f"channels?site={site.key}&from=2026-11-01&to=2026-11-10"))
    assert rows["billboard/offline"]["cost"] == 1000  # 10 days of a 30-day month
    numbers = _report(client, token, f"numbers?site={site.key}&from=2026-11-01&to=2026-11-10")
    board = next(r for r in numbers["rows"] if r["number"] == "+74950000999")
    assert (board["cost"], board["kind"], board["channel"]) == (1000, "static", "billboard/offline")
    pool = next(r for r in numbers["rows"] if r["number"] == site.pool[0])
    assert pool["calls"] == 3


def test_the_reports_page_shows_the_channels_their_drill_down_and_exports(
    app: Any, client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    page = page_login(app, engine, site, "analyst")
    q = f"site={site.site_id}&{PERIOD}"
    r = page.get(f"/app/reports?{q}")
    assert r.status_code == 200, r.text
    html = r.text
    assert 'id="channel-table"' in html and "<svg" in html and "Calls a day" in html
    assert "3\u202f000" in html and "233.33" in html  # yandex's cost and ROI
    assert "source=yandex&amp;medium=cpc&amp;group=campaign" in html
    assert 'id="model-table"' in html and "+79160000003" not in html  # lost callers: formatted
    drilled = page.get(f"/app/reports?{q}&source=google&medium=cpc&group=campaign")
    assert drilled.status_code == 200 and "generic" in drilled.text
    file = page.get(f"/app/reports/export/channels?{q}&format=csv")
    api = client.get(f"/api/v1/reports/channels?{q}&format=csv", headers=token)
    assert file.status_code == 200 and file.content == api.content
    assert page.get(f"/app/reports?{q}&colour=red").status_code == 400


def test_operators_see_the_call_center_but_not_the_money(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    page = page_login(app, engine, site, "operator")
    q = f"site={site.site_id}&{PERIOD}"
    assert page.get(f"/app/reports?{q}").status_code == 403
    center = page.get(f"/app/reports/call-center?{q}")
    assert center.status_code == 200
    assert "+7 916 000-00-03" in center.text and "lost: call back" in center.text
    assert page.get(f"/app/reports/journey?site={site.site_id}&visitor=A").status_code == 403


def test_the_journey_page_tells_one_persons_story(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    page = page_login(app, engine, site, "analyst")
    r = page.get(f"/app/reports/journey?site={site.site_id}&visitor=A")
    assert r.status_code == 200
    text = r.text
    assert text.index("yandex / cpc") < text.index("(direct) / (none)") < text.index("Deal <")
    assert "Linear: yandex/cpc 50%, (direct)/(none) 50%" in text


def test_calls_by_channel_over_time_follow_the_model(
    app: Any, client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    q = f"site={site.site_id}&{PERIOD}"
    last = _report(client, token, f"timeline?{q}")["calls_by_channel"]
    assert last == {
        "2026-11-03": {"google/cpc": 1},
        "2026-11-05": {"yandex/cpc": 1},
        "2026-11-06": {"google/cpc": 1},
    }
    linear = _report(client, token, f"timeline?{q}&model=linear")["calls_by_channel"]
    assert linear["2026-11-05"] == {"yandex/cpc": 0.5, "(direct)/(none)": 0.5}
    assert linear["2026-11-06"] == {"vk/social": 0.5, "google/cpc": 0.5}
    weeks = _report(client, token, f"timeline?{q}&group=week")["calls_by_channel"]
    assert weeks == {"2026-11-02": {"google/cpc": 2, "yandex/cpc": 1}}
    html = page_login(app, engine, site, "analyst").get(f"/app/reports?{q}").text
    assert "Calls a day by channel" in html and 'class="legend"' in html
    assert "2026-11-06: google/cpc, 1 calls" in html  # each part says what it is


def test_the_overview_lists_top_campaigns_and_keywords_by_target_calls(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    html = (
        page_login(app, engine, site, "analyst")
        .get(f"/app/reports?site={site.site_id}&{PERIOD}")
        .text
    )
    campaigns = html.split('id="top-campaigns"', 1)[1].split("</section>", 1)[0]
    assert campaigns.index("brand") < campaigns.index("generic")  # 1 target call, then 0
    assert "yandex / cpc" in campaigns
    first = page_login(app, engine, site, "admin").get(
        f"/app/reports?site={site.site_id}&{PERIOD}&model=first_touch"
    )
    by_first = first.text.split('id="top-campaigns"', 1)[1].split("</section>", 1)[0]
    assert "generic" in by_first and "vk" not in by_first  # C's first touch: no campaign
    keywords = html.split('id="top-keywords"', 1)[1].split("</section>", 1)[0]
    assert "No calls" in keywords  # none of the calls came by a keyword


def test_all_sites_overview_puts_each_site_beside_the_others(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    second = seed_site(engine, account_id=site.account_id, name="Second shop")
    stranger = seed_site(engine, name="Not ours")
    page = page_login(app, engine, site, "analyst")
    html = page.get(f"/app/reports?site=all&{PERIOD}").text
    table = html.split('id="all-sites"', 1)[1].split("</table>", 1)[0]
    assert "Test site" in table and "Second shop" in table and "Not ours" not in table
    ours = table.split("Test site", 1)[1].split("</tr>", 1)[0]
    assert ">3<" in ours and "7\u202f500" in ours  # calls, cost
    total = table.split("Total, RUB", 1)[1].split("</tr>", 1)[0]
    assert "7\u202f500" in total and "2\u202f500" in total  # cost, CPL over both sites
    assert f'value="{second.site_id}"' in html and f'value="{stranger.site_id}"' not in html
    single = page.get(f"/app/reports?site={site.site_id}&{PERIOD}").text
    assert '<option value="all">All sites</option>' in single


def test_an_operator_marks_a_lost_caller_handled_and_can_undo_it(
    app: Any, client: TestClient, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    """C's missed call (cC) is lost: marked handled, it leaves the list to call back but
    stays counted lost; the overview's list drops it too; undo brings it back."""
    q = f"site={site.site_id}&{PERIOD}"
    api = f"/api/v1/reports/call-center?{q}"
    before = _report(client, token, "call-center?" + q)
    assert (before["summary"]["lost"], before["summary"]["to_call_back"]) == (1, 1)
    operator = page_login(app, engine, site, "operator")
    form = {"call": "cC", "note": "called from a mobile", "site": str(site.site_id)}
    r = operator.post("/app/reports/call-center/handled", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/app/reports/call-center?")
    after = client.get(api, headers=token).json()
    assert (after["summary"]["lost"], after["summary"]["to_call_back"]) == (1, 0)
    (caller,) = [c for c in after["missed_callers"] if c["call_id"] == "cC"]
    assert caller["handled_by"] == "page-operator@shop.example"
    assert caller["handled_note"] == "called from a mobile" and caller["status"] == "lost"
    center = operator.get(f"/app/reports/call-center?{q}").text
    assert "called from a mobile" in center and ">Undo</button>" in center
    overview = page_login(app, engine, site, "analyst").get(f"/app/reports?{q}").text
    assert 'id="lost"' not in overview  # nobody left to call back
    undo = {"call": "cC", "undo": "1"}
    assert operator.post("/app/reports/call-center/handled", data=undo).status_code == 200
    assert client.get(api, headers=token).json()["summary"]["to_call_back"] == 1


def test_only_the_accounts_missed_calls_can_be_marked_handled(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    page = page_login(app, engine, site, "operator")
    url = "/app/reports/call-center/handled"
    answered = page.post(url, data={"call": "cA"})
    assert answered.status_code == 400 and "missed" in answered.text
    assert page.post(url, data={"call": "nosuch"}).status_code == 404
    assert page.post(url, data={"call": "cC", "undo": "1"}).status_code == 404  # never marked
    long_note = page.post(url, data={"call": "cC", "note": "x" * 201})
    assert long_note.status_code == 400 and "200 characters" in long_note.text
    other = seed_site(engine)
    stranger = page_login(app, engine, other, "owner")
    assert stranger.post(url, data={"call": "cC"}).status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(callbacks_handled)).all() == []


def test_the_deals_page_lists_deals_and_leads_to_their_journeys(
    app: Any, engine: Engine, site: Seeded, token: dict[str, str]
) -> None:
    page = page_login(app, engine, site, "analyst")
    html = page.get("/app/deals").text
    table = html.split('id="deals"', 1)[1].split("</table>", 1)[0]
    assert "10000.00 RUB" in table and "500.00 USD" in table and "won" in table
    assert '<a href="/app/calls/cA">call</a>' in table
    journey = table.split("journey?site=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    story = page.get(f"/app/reports/journey?site={journey}")
    assert story.status_code == 200 and "Deal" in story.text
    only_usd = page.get("/app/deals?status=won&site=" + str(site.site_id)).text
    assert "500.00 USD" in only_usd
    assert page.get("/app/deals?status=maybe").status_code == 400
    assert page_login(app, engine, site, "operator").get("/app/deals").status_code == 403
    other = seed_site(engine)
    assert "10000.00" not in page_login(app, engine, other, "owner").get("/app/deals").text
