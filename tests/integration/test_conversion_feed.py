"""`callpath feed add|list|remove` and `GET /feeds/google-ads/{id}.csv`: Google Ads
fetching a site's click conversions of its last days with HTTP Basic.

The history, placed around the moment the test starts (Moscow time, no DST: a fixed
+0300 offset):

- cIn: a day ago, from a visit with a gclid; answered, 120 s (target); won 2,500.00 RUB;
- cOld: 29 days ago (inside 30 days), from a visit with a gbraid; 200 s (target);
- cShort: two days ago, from a visit with a gclid; 10 s (not target);
- cLate: 31 days ago, from a visit with a gclid; 90 s (target): outside 30 days;
- cSister: another site of the same account, an hour ago, a gclid, 300 s (target), and
  cOther: another account's site, likewise: never in our site's feed.

The calls and visits are written as rows; classifying them is the product's own work.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from callpath.cli import app as cli_app
from callpath.services import leads as leads_service
from callpath.storage.db import transaction
from callpath.storage.tables import calls, conversion_feeds, deals, sessions
from tests.helpers import Hook, Seeded, ServerProcess, add_hook, free_port, seed_site

MSK = ZoneInfo("Europe/Moscow")
DAY = 86_400.0
HEAD = "Google Click ID,GBRAID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency"
runner = CliRunner()


@pytest.fixture
def now() -> float:
    return time.time()


@pytest.fixture
def other(engine: Engine) -> Seeded:
    return seed_site(engine, pool_size=1, name="Someone else's site")


@pytest.fixture
def history(engine: Engine, site: Seeded, hook: Hook, other: Seeded, now: float) -> Seeded:
    other_hook = add_hook(engine, other)
    sister = seed_site(engine, pool_size=1, account_id=site.account_id, name="Sister site")
    sister_hook = add_hook(engine, sister)
    mine = [
        ("cIn", {"gclid": "CjwIN-1"}, now - 1 * DAY, 120.0),
        ("cOld", {"gbraid": "0AAAgbOLD"}, now - 29 * DAY, 200.0),
        ("cShort", {"gclid": "CjwSHORT"}, now - 2 * DAY, 10.0),
        ("cLate", {"gclid": "CjwLATE"}, now - 31 * DAY, 90.0),
    ]
    with transaction(engine) as conn:
        for n, (cid, click, t, talk) in enumerate(mine):
            conn.execute(insert(sessions).values(_session(site, f"s-{cid}", click, t - 600)))
            conn.execute(insert(calls).values(_call(site, hook, cid, t, talk, n)))
        conn.execute(insert(sessions).values(_session(other, "s-cOther", {"gclid": "CjwX"}, now)))
        conn.execute(insert(calls).values(_call(other, other_hook, "cOther", now - 3600, 300, 9)))
        conn.execute(insert(sessions).values(_session(sister, "s-cSis", {"gclid": "CjwS"}, now)))
        conn.execute(insert(calls).values(_call(sister, sister_hook, "cSis", now - 3600, 300, 8)))
        conn.execute(insert(deals).values(_deal(site, "cIn", 250_000, now - DAY)))
        for s in (site, other, sister):
            leads_service.classify_period(
                conn, s.account_id, s.site_id, now - 40 * DAY, now, time.time()
            )
    return site


def _session(site: Seeded, sid: str, click: dict[str, str], t: float) -> dict[str, Any]:
    return {
        "id": sid,
        "account_id": site.account_id,
        "site_id": site.site_id,
        "visitor_id": f"v-{sid}",
        "started_at": t,
        "last_seen_at": t,
        "landing_url": "https://shop.example/",
        "source": "google",
        "medium": "cpc",
        "utm": {},
        "click_ids": click,
        "client_ids": {},
        "number_reason": "pool",
    }


def _call(site: Seeded, hook: Hook, cid: str, t: float, talk: float, n: int) -> dict[str, Any]:
    return {
        "id": cid,
        "account_id": site.account_id,
        "integration_id": hook.integration_id,
        "provider_call_id": cid,
        "site_id": site.site_id,
        "tracking_number": site.pool[0],
        "caller": f"+7916000000{n}",
        "state": "ended",
        "status": "answered",
        "started_at": t,
        "answered_at": t + 8,
        "ended_at": t + 8 + talk,
        "duration": 8 + talk,
        "talk": talk,
        "wait": 8.0,
        "session_id": f"s-{cid}",
        "visitor_id": f"v-s-{cid}",
        "match_method": "pool",
        "confidence": 0.95,
        "alternatives": [],
        "repeat": False,
        "updated_at": t + 60,
        "direction": "inbound",
    }


def _deal(site: Seeded, call_id: str, cents: int, t: float) -> dict[str, Any]:
    return {
        "account_id": site.account_id,
        "site_id": site.site_id,
        "amount_cents": cents,
        "currency": "RUB",
        "status": "won",
        "closed_at": t,
        "link": "call",
        "call_id": call_id,
        "created_at": t,
        "updated_at": t,
    }


def _cli(database_url: str, *args: str, public: str = "") -> Any:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_PUBLIC_URL": public}
    return runner.invoke(cli_app, ["feed", *args], env=env)


def _add_feed(database_url: str, site: Seeded, *extra: str) -> dict[str, str]:
    """`feed add`: the URL, username and password it printed."""
    result = _cli(
        database_url, "add", "--site", site.key, "--conversion-name", "Phone call", *extra,
        public="https://calls.example/",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fields = dict(re.findall(r"^  (URL|Username|Password): +(\S+)$", result.stdout, re.M))
    assert set(fields) == {"URL", "Username", "Password"}, result.stdout
    return fields


def _path(feed: dict[str, str]) -> str:
    assert feed["URL"].startswith("https://calls.example/feeds/google-ads/")
    return feed["URL"].removeprefix("https://calls.example")


def _fetch(client: TestClient, feed: dict[str, str], **kw: Any) -> httpx.Response:
    auth = kw.pop("auth", (feed["Username"], feed["Password"]))
    return client.get(_path(feed), auth=auth, **kw)


def _local(t: float) -> str:
    return datetime.fromtimestamp(t, MSK).strftime("%Y-%m-%d %H:%M:%S")


def _refused(r: httpx.Response, reason: str = "wrong username or password") -> None:
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"] == 'Basic realm="callpath"'
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {"error": reason}


def test_the_feed_holds_target_calls_of_its_window_only(
    history: Seeded, database_url: str, client: TestClient, now: float
) -> None:
    feed = _add_feed(database_url, history)
    assert re.fullmatch(r"gads_[0-9a-f]{16}", feed["Username"])
    assert feed["URL"] == f"https://calls.example/feeds/google-ads/{feed['Username']}.csv"
    r = _fetch(client, feed)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["cache-control"] == "no-store"
    assert r.text.split("\n") == [
        "Parameters:TimeZone=+0300",
        HEAD,
        f",0AAAgbOLD,Phone call,{_local(now - 29 * DAY)},,",
        f"CjwIN-1,,Phone call,{_local(now - DAY)},2500.00,RUB",
        "",
    ]


def test_all_calls_and_a_shorter_window(
    history: Seeded, database_url: str, client: TestClient, now: float
) -> None:
    feed = _add_feed(database_url, history, "--all-calls", "--days", "7")
    r = _fetch(client, feed)
    assert r.status_code == 200, r.text
    assert r.text.split("\n") == [
        "Parameters:TimeZone=+0300",
        "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        f"CjwSHORT,Phone call,{_local(now - 2 * DAY)},,",
        f"CjwIN-1,Phone call,{_local(now - DAY)},2500.00,RUB",
        "",
    ]


def test_wrong_missing_and_foreign_credentials_are_refused_alike(
    history: Seeded, other: Seeded, database_url: str, client: TestClient
) -> None:
    feed = _add_feed(database_url, history)
    theirs = _add_feed(database_url, other)
    _refused(client.get(_path(feed)), "credentials required (HTTP Basic: the feed's "
             "username and password)")  # fmt: skip
    _refused(_fetch(client, feed, auth=(feed["Username"], feed["Password"] + "x")))
    _refused(_fetch(client, feed, auth=(feed["Username"], "")))
    # another feed's right credentials open only that feed
    _refused(_fetch(client, feed, auth=(theirs["Username"], theirs["Password"])))
    _refused(_fetch(client, feed, auth=(feed["Username"], theirs["Password"])))
    # no such feed, well-formed or not: the same answer as a wrong password
    unknown = _path(feed).replace(feed["Username"], "gads_0000000000000000")
    _refused(client.get(unknown, auth=("gads_0000000000000000", feed["Password"])))
    _refused(client.get("/feeds/google-ads/nothing.csv", auth=("nothing", "x")))
    _refused(client.get(_path(feed), headers={"Authorization": "Basic !!!"}))
    _refused(client.get(_path(feed), headers={"Authorization": f"Bearer {feed['Password']}"}))
    assert _fetch(client, theirs).text.count("\n") == 3  # their one call, not ours


def test_a_removed_feed_answers_no_one(
    history: Seeded, database_url: str, client: TestClient
) -> None:
    feed = _add_feed(database_url, history)
    assert _fetch(client, feed).status_code == 200
    result = _cli(database_url, "remove", feed["Username"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"feed {feed['Username']} removed\n"
    _refused(_fetch(client, feed))
    again = _cli(database_url, "remove", feed["Username"])
    assert again.exit_code == 2
    assert f"no feed {feed['Username']}" in again.output


def test_failed_attempts_are_limited_per_address(
    history: Seeded, database_url: str, client: TestClient
) -> None:
    feed = _add_feed(database_url, history)
    assert _fetch(client, feed).status_code == 200  # a success counts for nothing
    for _ in range(10):
        _refused(_fetch(client, feed, auth=(feed["Username"], "guess")))
    r = _fetch(client, feed)  # the right password too, from this address, for a while
    assert r.status_code == 429, r.text
    assert r.json()["error"] == "too many failed attempts from this address"
    assert 1 <= int(r.headers["retry-after"]) <= 60


def test_only_the_password_hash_is_stored(
    history: Seeded, engine: Engine, database_url: str
) -> None:
    feed = _add_feed(database_url, history)
    with engine.connect() as conn:
        row = conn.execute(select(conversion_feeds)).one()._mapping
    assert row["id"] == feed["Username"]
    assert row["secret_hash"] == hashlib.sha256(feed["Password"].encode()).hexdigest()
    assert feed["Password"] not in [str(v) for v in row.values()]
    assert len(feed["Password"]) >= 32


def test_list_shows_live_feeds_and_their_last_fetch(
    history: Seeded, other: Seeded, database_url: str, client: TestClient
) -> None:
    mine = _add_feed(database_url, history, "--all-calls", "--days", "90")
    theirs = _add_feed(database_url, other)
    listed = _cli(database_url, "list", "--site", history.key)
    assert listed.exit_code == 0, listed.output
    line = listed.stdout.splitlines()
    assert len(line) == 1
    assert line[0].startswith(
        f'{mine["Username"]}\tsite {history.key}\t"Phone call", every call of the last 90 days'
        "\tmade "
    )
    assert line[0].endswith("\tnever fetched")
    assert _fetch(client, mine).status_code == 200
    everything = _cli(database_url, "list").stdout.splitlines()
    assert [row.split("\t")[0] for row in everything] == [mine["Username"], theirs["Username"]]
    assert "\tlast fetched 20" in everything[0]
    assert everything[1].endswith("\tnever fetched")
    _cli(database_url, "remove", theirs["Username"])
    _cli(database_url, "remove", mine["Username"])
    assert _cli(database_url, "list").stdout == "no feeds\n"


def test_add_without_a_public_address_says_what_to_put_first(
    history: Seeded, database_url: str
) -> None:
    result = _cli(database_url, "add", "--site", history.key, "--conversion-name", "Call")
    assert result.exit_code == 0, result.output
    assert re.search(r"^  URL: +https://<this server>/feeds/google-ads/gads_\w+\.csv$",
                     result.stdout, re.M)  # fmt: skip
    assert "CALLPATH_PUBLIC_URL" in result.stderr
    plain = _cli(
        database_url, "add", "--site", history.key, "--conversion-name", "Call",
        "--server", "http://calls.example",
    )  # fmt: skip
    assert plain.exit_code == 0, plain.output
    assert "HTTPS addresses only" in plain.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["add", "--site", "nosuchsite", "--conversion-name", "C"], "no site nosuchsite"),
        (["add", "--site", "{key}", "--conversion-name", " "], "conversion name: one line of 1"),
        (["add", "--site", "{key}", "--conversion-name", "x" * 101], "1 to 100 characters"),
        (["add", "--site", "{key}", "--conversion-name", "a\nb"], "conversion name"),
        (["add", "--site", "{key}", "--conversion-name", "C", "--days", "0"], "days: from 1 to 90"),
        (["add", "--site", "{key}", "--conversion-name", "C", "--days", "91"], "from 1 to 90"),
        (["add", "--site", "{key}", "--conversion-name", "C", "--server", "ftp://x"], "--server"),
        (["list", "--site", "nosuchsite"], "no site nosuchsite"),
        (["remove", "gads_0000000000000000"], "no feed gads_0000000000000000"),
        (["remove", "x" * 1000], "no feed xxxx"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    site: Seeded, engine: Engine, database_url: str, args: list[str], expected: str
) -> None:
    result = _cli(database_url, *[a.replace("{key}", site.key) for a in args])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    with engine.connect() as conn:
        assert conn.execute(select(conversion_feeds.c.id)).all() == []


def test_a_served_callpath_answers_the_feed(
    history: Seeded, database_url: str, tmp_path: Path, now: float
) -> None:
    feed = _add_feed(database_url, history)
    log = tmp_path / "server.log"
    with ServerProcess(database_url, free_port(), log) as served:
        url = served.url + _path(feed)
        ok = httpx.get(url, auth=(feed["Username"], feed["Password"]), timeout=10)
        wrong = httpx.get(url, auth=(feed["Username"], "nope"), timeout=10)
    assert ok.status_code == 200, ok.text
    assert f"CjwIN-1,,Phone call,{_local(now - DAY)},2500.00,RUB" in ok.text.split("\n")
    _refused(wrong)
    assert feed["Password"] not in log.read_text(errors="replace")
