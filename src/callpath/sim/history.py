"""The demo's past: months of generated traffic written as stored history.

`callpath demo` seeds the demo site with what the traffic generator (`sim/generator.py`)
makes of the last 60 days: visits (classified by the product's own channel rules, device
from the user agent, country from the IP), their pages, the calls of those visits matched
to them, calls on the static numbers (a billboard, the maps listing), daily spend for the
paid channels and deals for some of the answered calls. Leads and their credits are then
classified by the real service (`services/leads.classify_period`), so every report reads
what it would read on a live site.

It is written in bulk, not through the live allocation path: seconds, not minutes. A
site that has visits already is left as it is (re-running `callpath demo` keeps them).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from callpath.domain.calls import call_key
from callpath.domain.channel import parse_landing
from callpath.services import enrich, leads, setup
from callpath.sim.generator import generate
from callpath.sim.history_events import events_of
from callpath.sim.trace import Event
from callpath.storage import cost_repo, history_repo, site_repo
from callpath.storage.db import transaction

Row = dict[str, Any]
DAYS = 60
VISITS_PER_DAY = 220
SEED = 20261207
ANSWERED = 0.86  # share of calls answered
DEAL = 0.45  # share of answered calls of a minute or more that become a deal
WON = 0.8
CALL_BACK = 0.5  # share of missed callers the office calls back
STATIC_CALLS_PER_DAY = {"billboard": 1.6, "yandex_maps": 2.4}
# Daily spend (roubles): the generator's paid channels and campaigns.
SPEND = (
    ("yandex", "cpc", "pizza_msk", 2600.0),
    ("google", "cpc", "", 900.0),
    ("vk", "social", "spring", 450.0),
)


@dataclass(frozen=True, slots=True)
class Seeded:
    visits: int
    calls: int
    deals: int
    spend_days: int


@dataclass(slots=True)
class _Build:
    site: Row
    integration: str
    start: float
    rng: random.Random
    pool: list[Row]
    statics: list[Row]
    sessions: dict[str, Row] = field(default_factory=dict)
    visitors: dict[str, Row] = field(default_factory=dict)
    pages: list[Row] = field(default_factory=list)
    calls: list[Row] = field(default_factory=list)
    callers: set[str] = field(default_factory=set)


def seed(engine: Engine, key: str, now: float, days: int = DAYS) -> Seeded | None:
    """Write `days` of history for site `key` ending today; None when it has visits."""
    with transaction(engine) as conn:
        site = site_repo.site_row(conn, key=key)
        if site is None or history_repo.has_visits(conn, site["id"]):
            return None
        numbers = site_repo.list_numbers(conn, site["account_id"], site["id"])
        integration = setup.create_integration(
            conn, site["account_id"], site["id"], "generic", "Demo PBX (history)", now
        ).id
    today = datetime.fromtimestamp(now, UTC).date()
    first = today - timedelta(days=days)
    start = datetime.combine(first, datetime.min.time(), UTC).timestamp()
    build = _Build(
        site,
        integration,
        start,
        random.Random(SEED),
        [n for n in numbers if n["kind"] == "pool" and n["active"]],
        [n for n in numbers if n["kind"] == "static" and n["active"]],
    )
    _, events = generate(
        VISITS_PER_DAY, days, SEED, first.isoformat() + "T00:00:00Z", key, site["timezone"]
    )
    _visits(build, events)
    _static_calls(build, days)
    _calls_back(build)
    build.calls.sort(key=lambda c: c["started_at"])
    deal_rows = _deals(build, now)
    with transaction(engine) as conn:
        history_repo.add(
            conn,
            visitor_rows=list(build.visitors.values()),
            session_rows=list(build.sessions.values()),
            page_rows=build.pages,
            call_rows=build.calls,
            event_rows=[e for call in build.calls for e in events_of(call)],
            deal_rows=deal_rows,
        )
        history_repo.backdate_numbers(conn, site["id"], start)
        spend = _spend(build, first, today - timedelta(days=1), now)
        cost_repo.replace(conn, site["id"], "csv", first.isoformat(), today.isoformat(), spend)
    with transaction(engine) as conn:
        leads.classify_period(conn, site["account_id"], site["id"], start, now + 1, now)
    return Seeded(len(build.sessions), len(build.calls), len(deal_rows), days)


def _visits(build: _Build, events: Iterable[Event]) -> None:
    for event in events:
        t = build.start + event.t
        session = build.sessions.get(event.session)
        if event.type == "pageview":
            if session is None:
                session = _new_session(build, event, t)
            session["last_seen_at"] = t
            build.pages.append(_page(build, event, t))
        elif session is None:
            continue
        elif event.type == "close":
            session["left_at"] = t
            session["last_seen_at"] = max(session["last_seen_at"], t)
        elif event.type == "call" and session["number_id"] is not None:
            build.calls.append(_call(build, event, session, t))


def _new_session(build: _Build, event: Event, t: float) -> Row:
    site, url = build.site, event.url or "https://napoli.example/"
    landing = parse_landing(url, event.referrer, site["domains"])
    device = enrich.parse_user_agent(event.ua or "")
    bot = device.device == "bot"
    number = None if bot or not build.pool else build.pool[len(build.sessions) % len(build.pool)]
    ch = landing.channel
    visitor = event.visitor or event.session
    row = {
        "id": event.session[:32],
        "account_id": site["account_id"],
        "site_id": site["id"],
        "visitor_id": visitor[:64],
        "started_at": t,
        "last_seen_at": t,
        "left_at": None,
        "landing_url": url,
        "referrer": event.referrer,
        **{k: getattr(ch, k) for k in ("source", "medium", "campaign", "keyword", "content")},
        "utm": landing.utm,
        "click_ids": landing.click_ids,
        "client_ids": {} if bot else _client_ids(visitor),
        "user_agent": event.ua,
        "device": device.device,
        "browser": device.browser,
        "os": device.os,
        "country": enrich.geo.country(event.ip),
        "number_id": None if number is None else number["id"],
        "number_reason": "bot" if bot else "pool",
        "visit_code": None,
    }
    build.sessions[event.session] = row
    known = build.visitors.get(visitor)
    if known is None:
        build.visitors[visitor] = {
            "site_id": site["id"],
            "id": visitor[:64],
            "account_id": site["account_id"],
            "first_seen": t,
            "last_seen": t,
        }
    else:
        known["last_seen"] = t
    return row


def _page(build: _Build, event: Event, t: float) -> Row:
    session = build.sessions[event.session]
    return {
        "account_id": build.site["account_id"],
        "session_id": session["id"],
        "at": t,
        "url": event.url or session["landing_url"],
    }


def _call(build: _Build, event: Event, session: Row, t: float) -> Row:
    number = next(n for n in build.pool if n["id"] == session["number_id"])
    channel = {k: session[k] for k in ("source", "medium", "campaign", "keyword")}
    return _call_row(
        build,
        event.call or f"call-{len(build.calls)}",
        event.caller or _caller(build.rng),
        t,
        number,
        {"session_id": session["id"], "visitor_id": session["visitor_id"], **channel},
        confidence=round(build.rng.uniform(0.9, 0.99), 3),
    )


def _static_calls(build: _Build, days: int) -> None:
    """Calls on the static numbers: their channel is the number's own."""
    for number in build.statics:
        rate = STATIC_CALLS_PER_DAY.get(str(number["channel_source"]), 1.0)
        for day in range(days):
            for _ in range(_poisson(build.rng, rate)):
                t = build.start + day * 86_400 + build.rng.uniform(7, 19) * 3600
                channel = {
                    "source": number["channel_source"],
                    "medium": number["channel_medium"],
                    "campaign": number["channel_campaign"],
                    "keyword": None,
                }
                pbx = f"static-{number['id']}-{day}-{len(build.calls)}"
                caller = _caller(build.rng)
                build.calls.append(
                    _call_row(build, pbx, caller, t, number, channel, confidence=1.0)
                )


def _call_row(
    build: _Build,
    pbx_id: str,
    caller: str,
    t: float,
    number: Row,
    matched: Row,
    confidence: float,
) -> Row:
    rng = build.rng
    answered = rng.random() < ANSWERED
    wait = float(round(rng.uniform(4, 20) if answered else rng.uniform(2, 40)))
    talk = float(round(min(1800.0, rng.lognormvariate(4.4, 0.8)))) if answered else 0.0
    repeat = caller in build.callers
    build.callers.add(caller)
    return {
        "id": call_key(build.integration, pbx_id),
        "account_id": build.site["account_id"],
        "integration_id": build.integration,
        "provider_call_id": pbx_id[:200],
        "site_id": build.site["id"],
        "number_id": number["id"],
        "tracking_number": number["e164"],
        "caller": caller,
        "forward_to": number["forward_to"],
        "state": "ended",
        "status": "answered" if answered else "missed",
        "started_at": t,
        "answered_at": t + wait if answered else None,
        "ended_at": t + wait + talk,
        "duration": wait + talk,
        "talk": talk,
        "wait": wait,
        "recording_url": None,
        "session_id": None,
        "visitor_id": None,
        "match_method": "pool" if "session_id" in matched else "static",
        "confidence": confidence,
        "alternatives": [],
        "repeat": repeat,
        "direction": "inbound",
        "first_call_id": None,
        **matched,
        "updated_at": t + wait + talk,
    }


def _calls_back(build: _Build) -> None:
    """The office calls back about half of its missed callers, within the hour mostly."""
    for call in [c for c in build.calls if c["status"] == "missed"]:
        if build.rng.random() >= CALL_BACK:
            continue
        number = {"id": call["number_id"], "e164": call["tracking_number"], "forward_to": None}
        t = call["started_at"] + build.rng.uniform(3, 50) * 60
        pbx = f"out-{call['provider_call_id']}"
        none = {"source": None, "medium": None, "campaign": None, "keyword": None}
        row = _call_row(build, pbx, call["caller"], t, number, none, confidence=0.0)
        build.calls.append({**row, "direction": "outbound", "match_method": "outbound"})


def _client_ids(visitor: str) -> dict[str, str]:
    """The site's Metrica and Google Analytics cookies (`_ym_uid`, `_ga`), the same on
    every visit of one visitor, read as the tracker reads them."""
    n = int(hashlib.sha256(visitor.encode("utf-8")).hexdigest()[:15], 16)
    first_seen = 1_700_000_000 + n % 50_000_000
    return enrich.client_ids(f"GA1.1.{n % 10**10}.{first_seen}", f"{first_seen}{n % 10**9:09d}")


def _caller(rng: random.Random) -> str:
    return f"+7916{rng.randrange(10**7):07d}"


def _poisson(rng: random.Random, rate: float) -> int:
    count, total = 0, rng.expovariate(rate)
    while total < 1.0:
        count += 1
        total += rng.expovariate(rate)
    return count


def _deals(build: _Build, now: float) -> list[Row]:
    rows = []
    for call in build.calls:
        if call["direction"] == "outbound" or call["talk"] < 60 or build.rng.random() >= DEAL:
            continue
        closed = min(now, call["ended_at"] + build.rng.uniform(0.5, 72) * 3600)
        status = "won" if build.rng.random() < WON else "lost"
        amount = int(build.rng.lognormvariate(8.0, 0.5) / 10) * 10  # ~3,000 roubles
        rows.append(
            {
                "account_id": build.site["account_id"],
                "site_id": build.site["id"],
                "external_id": f"demo-{call['id']}",
                "title": "Catering order" if amount > 6000 else "Delivery order",
                "amount_cents": amount * 100,
                "currency": build.site["currency"],
                "status": status,
                "closed_at": closed,
                "link": "call",
                "call_id": call["id"],
                "session_id": call["session_id"],
                "visitor_id": call["visitor_id"],
                "caller": call["caller"],
                "visit_code": None,
                "created_at": closed,
                "updated_at": closed,
            }
        )
    return rows


def _spend(build: _Build, first: date, last: date, now: float) -> list[Row]:
    rows = []
    day = first
    while day <= last:
        weekend = 1.25 if day.weekday() >= 5 else 1.0
        for source, medium, campaign, daily in SPEND:
            amount = daily * weekend * build.rng.uniform(0.8, 1.2)
            rows.append(
                {
                    "account_id": build.site["account_id"],
                    "site_id": build.site["id"],
                    "origin": "csv",
                    "day": day.isoformat(),
                    "source": source,
                    "medium": medium,
                    "campaign": campaign,
                    "term": "",
                    "content": "",
                    "amount_cents": round(amount * 100),
                    "clicks": int(amount / 25),
                    "imported_at": now,
                }
            )
        day += timedelta(days=1)
    return rows
