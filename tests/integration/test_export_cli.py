"""`callpath export metrica-calls` and `callpath export google-ads` on a history small
enough to check by hand (Moscow time, November 2026):

- cA: a pool call from a visit with a Metrica client id, a yclid and a gclid; answered,
  120 s (target, first-time); won a deal of 10,000.50 RUB (a lost one too);
- cB: a pool call from a visit with a yclid only; answered, 10 s (not target);
- cC: a static number's call, no visit; missed;
- cD: the first caller again, from a visit with a client id and a gbraid; 200 s (target,
  not first-time);
- cG: the 30th at 23:30 (the last day counts whole), a visit with a client id and a
  landing URL that a spreadsheet would run; 45 s (target), no Google click id;
- left out: a spam call (a blocked caller), a call out, a call still going on, and one at
  00:10 on 1 December.

The calls and visits are written as rows; classifying them is the product's own work.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from callpath.cli import app
from callpath.services import leads as leads_service
from callpath.storage.db import transaction
from callpath.storage.tables import blocked_numbers, calls, deals, sessions
from tests.helpers import Hook, Seeded, seed_site

MSK = ZoneInfo("Europe/Moscow")
runner = CliRunner()
SPAMMER = "+79169999999"
METRICA_HEAD = (
    "ClientId,DateTime,PhoneNumber,StaticCall,Price,Currency,TalkDuration,HoldDuration,"
    "CallMissed,Tag,FirstTimeCaller,URL,CallTrackerURL"
)


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK).timestamp()


VISITS: list[tuple[str, dict[str, str], dict[str, str], str]] = [
    # id, click ids, client ids, landing URL
    ("s1", {"yclid": "9876543210", "gclid": "CjwKCAabc-_1"}, {"ym": "1700000000111"}, "/a"),
    ("s2", {"yclid": "5555"}, {}, "/b"),
    ("s3", {"gbraid": "0AAAAAgb_1"}, {"ym": "1700000000333"}, "/c"),
    ("s4", {}, {"ym": "1700000000444"}, "=1+1"),
    ("s5", {"gclid": "CjwSPAM"}, {"ym": "1700000000555"}, "/d"),
]
CALLS: list[tuple[Any, ...]] = [
    # id, session, time, caller, talk (None: missed), method, direction, state
    ("cA", "s1", at(5, 12, 10), "+79160000001", 120.0, "pool", "inbound", "ended"),
    ("cB", "s2", at(6, 9, 0), "+79160000002", 10.0, "pool", "inbound", "ended"),
    ("cC", None, at(7, 15, 0), "+79160000003", None, "static", "inbound", "ended"),
    ("cD", "s3", at(8, 10, 0), "+79160000001", 200.0, "pool", "inbound", "ended"),
    ("cG", "s4", at(30, 23, 30), "+79160000007", 45.0, "pool", "inbound", "ended"),
    ("cS", "s5", at(9, 11, 0), SPAMMER, 60.0, "pool", "inbound", "ended"),
    ("cO", "s1", at(10, 11, 0), "+79160000001", 60.0, "none", "outbound", "ended"),
    ("cP", "s1", at(11, 11, 0), "+79160000008", None, "pool", "inbound", "started"),
    ("cL", "s1", at(1, 0, 10, month=12), "+79160000009", 60.0, "pool", "inbound", "ended"),
]


@pytest.fixture
def history(engine: Engine, site: Seeded, hook: Hook) -> Seeded:
    with transaction(engine) as conn:
        conn.execute(insert(sessions), [_session(site, *v) for v in VISITS])
        conn.execute(insert(calls), [_call(site, hook, *c) for c in CALLS])
        conn.execute(
            insert(blocked_numbers),
            [{"account_id": site.account_id, "e164": SPAMMER, "created_at": time.time()}],
        )
        conn.execute(
            insert(deals),
            [
                _deal(site, "cA", 1_000_050, "won"),
                _deal(site, "cD", 700_000, "lost"),
                _deal(site, "cS", 900_000, "won"),
            ],
        )
        leads_service.classify_period(
            conn, site.account_id, site.site_id, at(1, 0), at(2, 0, month=12), time.time()
        )
    return site


def _session(
    site: Seeded, sid: str, click: dict[str, str], client: dict[str, str], path: str
) -> dict[str, Any]:
    return {
        "id": sid,
        "account_id": site.account_id,
        "site_id": site.site_id,
        "visitor_id": f"v-{sid}",
        "started_at": at(1, 9),
        "last_seen_at": at(1, 9),
        "landing_url": path if path.startswith("=") else f"https://shop.example{path}",
        "source": "google",
        "medium": "cpc",
        "utm": {},
        "click_ids": click,
        "client_ids": client,
        "number_reason": "pool",
    }


def _call(
    site: Seeded,
    hook: Hook,
    cid: str,
    sid: str | None,
    t: float,
    caller: str,
    talk: float | None,
    method: str,
    direction: str,
    state: str,
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
        "state": state,
        "status": ("answered" if answered else "missed") if state == "ended" else None,
        "started_at": t,
        "answered_at": t + 8 if answered else None,
        "ended_at": t + 8 + (talk or 20),
        "duration": 8 + (talk or 20),
        "talk": talk or 0.0,
        "wait": 8.0 if answered else 28.0,
        "session_id": sid,
        "visitor_id": f"v-{sid}" if sid else None,
        "match_method": method,
        "confidence": 0.95 if sid else 1.0,
        "alternatives": [],
        "repeat": False,
        "updated_at": t + 60,
        "direction": direction,
    }


def _deal(site: Seeded, call_id: str, cents: int, status: str) -> dict[str, Any]:
    return {
        "account_id": site.account_id,
        "site_id": site.site_id,
        "amount_cents": cents,
        "currency": "RUB",
        "status": status,
        "closed_at": at(20, 12),
        "link": "call",
        "call_id": call_id,
        "created_at": at(20, 12),
        "updated_at": at(20, 12),
    }


def _run(database_url: str, *args: str, public: str | None = None) -> Any:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_PUBLIC_URL": public or ""}
    return runner.invoke(app, ["export", *args], env=env)


PERIOD = ("--from", "2026-11-01", "--to", "2026-11-30")


def test_metrica_calls_by_client_id(history: Seeded, database_url: str) -> None:
    result = _run(
        database_url, "metrica-calls", "--site", history.key, *PERIOD,
        public="https://calls.example/",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == [
        METRICA_HEAD,
        f"1700000000111,{int(at(5, 12, 10))},+79160000001,0,10000.50,RUB,120,8,0,target,1,"
        "https://shop.example/a,https://calls.example/app/calls/cA",
        f"1700000000333,{int(at(8, 10))},+79160000001,0,,,200,8,0,target,0,"
        "https://shop.example/c,https://calls.example/app/calls/cD",
        f"1700000000444,{int(at(30, 23, 30))},+79160000007,0,,,45,8,0,target,1,"
        "'=1+1,https://calls.example/app/calls/cG",
        "",
    ]
    assert result.stderr.splitlines() == [
        "3 calls written",
        "skipped 2 calls without a ClientId (1 of them have one for --id yclid)",
    ]


def test_metrica_calls_by_yclid_to_a_file(
    history: Seeded, database_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "calls.csv"
    result = _run(
        database_url, "metrica-calls", "--site", str(history.site_id), *PERIOD,
        "--id", "yclid", "--output", str(out), "--server", "http://10.0.0.5:8000",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == METRICA_HEAD.replace("ClientId", "Yclid")
    assert lines[1:] == [
        f"9876543210,{int(at(5, 12, 10))},+79160000001,0,10000.50,RUB,120,8,0,target,1,"
        "https://shop.example/a,http://10.0.0.5:8000/app/calls/cA",
        f"5555,{int(at(6, 9))},+79160000002,0,,,10,8,0,not target,1,"
        "https://shop.example/b,http://10.0.0.5:8000/app/calls/cB",
    ]
    assert "skipped 3 calls without a Yclid (2 of them have one for --id client-id)" in (
        result.stderr
    )


def test_metrica_calls_without_a_base_url_leave_the_tracker_url_empty(
    history: Seeded, database_url: str
) -> None:
    result = _run(database_url, "metrica-calls", "--site", history.key, *PERIOD)
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[1:]
    assert [r.rsplit(",", 1)[1] for r in rows] == ["", "", ""]


def test_google_ads_target_calls(history: Seeded, database_url: str) -> None:
    result = _run(
        database_url, "google-ads", "--site", history.key,
        "--conversion-name", "Phone call (callpath)", *PERIOD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == [
        "Parameters:TimeZone=+0300",
        "Google Click ID,GBRAID,Conversion Name,Conversion Time,Conversion Value,"
        "Conversion Currency",
        "CjwKCAabc-_1,,Phone call (callpath),2026-11-05 12:10:00,10000.50,RUB",
        ",0AAAAAgb_1,Phone call (callpath),2026-11-08 10:00:00,,",
        "",
    ]
    assert result.stderr.splitlines() == [
        "2 conversions written",
        "skipped 1 target calls without a Google click id",
    ]


def test_google_ads_all_calls_and_a_name_that_would_run(history: Seeded, database_url: str) -> None:
    result = _run(
        database_url, "google-ads", "--site", history.key, "--conversion-name", "=Calls",
        *PERIOD, "--all-calls",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[2:] == [
        "CjwKCAabc-_1,,'=Calls,2026-11-05 12:10:00,10000.50,RUB",
        ",0AAAAAgb_1,'=Calls,2026-11-08 10:00:00,,",
    ]
    assert "skipped 3 calls without a Google click id" in result.stderr


def test_google_ads_without_ios_clicks_has_the_plain_template(
    history: Seeded, database_url: str
) -> None:
    result = _run(
        database_url, "google-ads", "--site", history.key, "--conversion-name", "Call",
        "--from", "2026-11-05", "--to", "2026-11-05",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Parameters:TimeZone=+0300",
        "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        "CjwKCAabc-_1,Call,2026-11-05 12:10:00,10000.50,RUB",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metrica-calls", "--site", "nope", *PERIOD], "no site nope"),
        (
            ["metrica-calls", "--site", "{key}", "--from", "2026-13-01", "--to", "2026-11-30"],
            "--from: '2026-13-01' is not a day as YYYY-MM-DD",
        ),
        (
            ["metrica-calls", "--site", "{key}", "--from", "20261101", "--to", "2026-11-30"],
            "--from: '20261101' is not a day",
        ),
        (
            ["google-ads", "--site", "{key}", "--conversion-name", "C",
             "--from", "2026-11-30", "--to", "2026-11-01"],
            "--to: a day on or after --from",
        ),
        (
            ["metrica-calls", "--site", "{key}", "--from", "2026-11-01", "--to", "9999-12-31"],
            "--to: a day before 9999-12-31",
        ),
        (["metrica-calls", "--site", "{key}", *PERIOD, "--id", "userid"], "--id: one of"),
        (["metrica-calls", "--site", "{key}", *PERIOD, "--server", "ftp://x"], "--server"),
        (
            ["google-ads", "--site", "{key}", "--conversion-name", " ", *PERIOD],
            "--conversion-name: one line of 1 to 100 characters",
        ),
        (
            ["metrica-calls", "--site", "{key}", *PERIOD, "--output", "{tmp}/no/such/dir.csv"],
            "No such file or directory",
        ),
        (
            ["google-ads", "--site", "{key}", "--conversion-name", "C", *PERIOD, "-o", "{tmp}"],
            "Is a directory",
        ),
        (["metrica-calls", "--site", "9" * 25, *PERIOD], "is not a site id"),
    ],
)  # fmt: skip
def test_refusals_are_one_line_and_exit_2(
    history: Seeded, database_url: str, tmp_path: Path, args: list[str], message: str
) -> None:
    given = [a.replace("{key}", history.key).replace("{tmp}", str(tmp_path)) for a in args]
    result = _run(database_url, *given)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr, result.stderr


@pytest.fixture
def site(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1, statics=("Billboard",))
