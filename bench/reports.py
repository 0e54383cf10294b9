"""How long the analytics reports take on a year of a busy site, against a floor.

    .venv/bin/python bench/reports.py [--db sqlite|postgresql|both] [--sessions N]
                                      [--calls N] [--deals N] [--runs R] [--seed S]
                                      [--all-models] [--postgres-url URL] [--keep]

For each backend a fresh database (SQLite: a file in a temp folder; PostgreSQL: a
throwaway cluster, or a new database on `--postgres-url`) is migrated, seeded with one
site (Europe/Moscow, RUB), 30 pool numbers and two static numbers with a monthly cost,
and filled with generated data (fixed `--seed`, so runs are comparable):

  sessions      N (1,000,000) over one calendar year: 12 channels with a skewed share,
                34 campaigns and 300 keywords on the cpc channels, visitors returning
                (about 1.4 visits each), devices, countries, landing URLs with and without
                query strings, 3% bots;
  calls, leads  `--calls` (50,000), 92% matched to a visit; first-time, target, missed,
                lost and spam mixed as the classifier would set them;
  lead_credits  every lead under all six attribution models, from its visitor's visits
                (1-4 touches within the 90-day lookback), shares from domain/attribution;
  deals         `--deals` (5,000): most linked to a call, the rest to a visit; won, open,
                lost, in the site's currency;
  costs         a year of daily spend per cpc campaign (origin csv).

Rows are written in bulk (SQLite: executemany in chunks of 5,000; PostgreSQL: COPY), not
through services/leads.py, which would take hours at this size. PostgreSQL is then
VACUUM ANALYZEd, as autovacuum would have done after a load; SQLite is left unanalysed,
as the application leaves it.

Measured, in this process on the same data, each inside its own read transaction as the
API runs them (one warm-up, then the median of `--runs`): the floor, a plain
`SELECT source, medium, count(*) ... GROUP BY source, medium` over the period's sessions,
and the reports' engine functions over the whole year: channels (by source/medium) under
every model, the models side by side, landing pages, devices, geo (country), numbers,
the timeline by day and by month (these under the default model; `--all-models`: under
every model), and the call-center report.

Aim: the channel report under any model within 1 s on PostgreSQL and 2 s on SQLite on
this machine (2 cores), and within 5x the floor; the last lines say met or NOT met.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import itertools
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/
from callpath.domain.attribution import DEFAULT_MODEL, MODELS, Touch, shares
from callpath.domain.channel import NOT_SET
from callpath.domain.leads import Rules
from callpath.reports import analytics, call_center
from callpath.reports.analytics import Shape
from callpath.reports.dimensions import GROUPS
from callpath.reports.measures import Scope
from callpath.reports.period import Period
from callpath.services import setup
from callpath.storage import migrate
from callpath.storage.db import checkpoint, make_engine, transaction
from callpath.storage.tables import (
    calls,
    costs,
    deals,
    lead_credits,
    leads,
    sessions,
    sites,
    tracking_numbers,
    visitors,
)
from tests.helpers import next_number, seed_site
from tests.throwaway_pg import PgCluster

YEAR = 2025
DAY = 86_400.0
RULES = Rules()  # the site's lead rules: the defaults
LOOKBACK = RULES.lookback_days * DAY
MAX_TOUCHES = 4
GOAL_SECONDS = {"sqlite": 2.0, "postgresql": 1.0}
GOAL_FLOOR_RATIO = 5.0
CHUNK = {"sqlite": 5_000, "postgresql": 50_000}

# ----------------------------------------------------------------------------- the shapes


class Channel(NamedTuple):
    source: str
    medium: str
    weight: float  # share of first visits
    calls: float  # how likely a visit from it ends in a call, relative
    campaigns: int  # cpc: paid campaigns (with costs); other media: named mailings
    paid: bool


CHANNELS = (
    Channel("yandex", "cpc", 24, 1.0, 16, True),
    Channel("google", "cpc", 16, 1.0, 12, True),
    Channel("(direct)", "(none)", 18, 1.6, 0, False),
    Channel("yandex", "organic", 14, 1.2, 0, False),
    Channel("google", "organic", 9, 1.2, 0, False),
    Channel("vk", "cpc", 5, 0.6, 6, True),
    Channel("vk", "social", 4, 0.5, 0, False),
    Channel("telegram", "social", 3, 0.5, 0, False),
    Channel("email", "newsletter", 2.5, 1.4, 5, False),
    Channel("bing", "organic", 1.5, 1.0, 0, False),
    Channel("2gis.ru", "referral", 1.5, 2.0, 0, False),
    Channel("habr.com", "referral", 1.5, 0.4, 0, False),
)
DIRECT = 2  # CHANNELS' index of (direct)/(none): many returning visits come direct
KEYWORDS = 300  # over the cpc campaigns of yandex and google
DEVICES = (("mobile", 58), ("desktop", 38), ("tablet", 4))
BROWSERS = {
    "mobile": (
        ("Chrome Mobile", "Android"),
        ("Mobile Safari", "iOS"),
        ("Yandex Browser", "Android"),
    ),
    "desktop": (("Chrome", "Windows"), ("Yandex Browser", "Windows"), ("Safari", "Mac OS X")),
    "tablet": (("Mobile Safari", "iOS"), ("Chrome", "Android")),
}
COUNTRIES = (
    ("RU", 88),
    ("KZ", 4),
    ("BY", 3),
    ("UZ", 1),
    ("AM", 1),
    ("DE", 1),
    ("US", 1),
    (None, 1),
)
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 10, 10, 9, 9, 8, 8, 8, 7, 6, 4, 2)
BOT_SHARE = 0.03
EXHAUSTED_SHARE = 0.04  # visits shown the default number (pool ran short)
SITE_URL = "https://shop.example"


def _zipf(n: int, s: float = 1.0) -> list[float]:
    return [1.0 / (i + 1) ** s for i in range(n)]


def _landings() -> list[str]:
    catalog = ["", "catalog/", "delivery/", "contacts/", "sale/", "about/", "blog/"]
    categories = [f"catalog/{c}/" for c in ("sofas", "beds", "tables", "chairs", "lamps")]
    products = [f"product/{1000 + i}/" for i in range(48)]
    return [f"/{p}" for p in (*catalog, *categories, *products)]


LANDINGS = _landings()
LANDING_WEIGHTS = _zipf(len(LANDINGS), 0.9)


def _id(kind: str, seed: int, i: int) -> str:
    return hashlib.md5(f"{kind}-{seed}-{i}".encode()).hexdigest()  # an id, not a secret


# ----------------------------------------------------------------------------- the plan


class Visit(NamedTuple):
    t: float
    visitor: int
    channel: int
    campaign: str | None
    keyword: str | None
    device: str
    country: str | None
    path: str
    bot: bool


class CallPlan(NamedTuple):
    t: float
    visit: int | None  # index into the plan's visits; None: matched to no visit
    caller: str | None
    number_id: int
    source: str | None
    medium: str | None
    answered: bool
    wait: float
    talk: float
    spam: bool


@dataclass(frozen=True, slots=True)
class Numbers:
    pool: list[int]
    default: int
    static: list[tuple[int, str, str, str]]  # id, e164, source, medium
    e164: dict[int, str]


@dataclass(slots=True)
class Plan:
    seed: int
    site_id: int
    account_id: int
    integration_id: str
    since: float  # the year's first second, UTC
    visits: list[Visit] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)  # the visits'
    visitor_ids: list[str] = field(default_factory=list)
    calls: list[CallPlan] = field(default_factory=list)
    touches: Counter[int] = field(default_factory=Counter)

    def session_id(self, i: int) -> str:
        return self.session_ids[i]

    def visitor_id(self, v: int) -> str:
        return self.visitor_ids[v]

    def call_id(self, i: int) -> str:
        return _id("c", self.seed, i)[:24]


# Ids as services/new_sessions.new_id makes them: the time in milliseconds (7 characters
# that sort as the times do), then a random-looking part (here a function of the index).
_SORTED_DIGITS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835


def _time_id(t: float, seed: int, i: int) -> str:
    millis = int(t * 1000)
    stamp = "".join(_SORTED_DIGITS[(millis >> shift) & 63] for shift in range(36, -1, -6))
    return stamp + f"{((i + 1) * _MIX + seed) & (2**88 - 1):022x}"


def _campaigns() -> dict[int, list[str]]:
    out = {}
    for i, ch in enumerate(CHANNELS):
        if ch.campaigns:
            kind = "mail" if not ch.paid else ch.source
            out[i] = [f"{kind}_{name}_{j:02d}" for j, name in enumerate(_names(ch.campaigns))]
    return out


def _names(n: int) -> list[str]:
    base = ("brand", "sofas", "beds", "tables", "retarget", "sale", "lamps", "chairs")
    return [base[i % len(base)] for i in range(n)]


CAMPAIGNS = _campaigns()
KEYWORD_NAMES = [f"kw {i:03d}" for i in range(KEYWORDS)]


def _keyword(rng: random.Random, channel: int, campaign_index: int) -> str | None:
    """A keyword of one of the campaign's own slice of the list (yandex and google)."""
    if CHANNELS[channel].source not in ("yandex", "google") or not CHANNELS[channel].paid:
        return None
    per = KEYWORDS // (len(CAMPAIGNS[0]) + len(CAMPAIGNS[1]))
    start = (campaign_index + (len(CAMPAIGNS[0]) if channel == 1 else 0)) * per
    return KEYWORD_NAMES[start + min(int(rng.expovariate(0.25)), per - 1)]


class Chooser:
    """random.choices over fixed weights, the cumulative sums computed once."""

    def __init__(self, values: Sequence[Any], weights: Sequence[float]) -> None:
        self.values = list(values)
        total, self.cum = 0.0, []
        for w in weights:
            total += w
            self.cum.append(total)

    def many(self, rng: random.Random, k: int) -> Iterator[Any]:
        return iter(rng.choices(self.values, cum_weights=self.cum, k=k))


def plan_visits(rng: random.Random, plan: Plan, count: int) -> None:
    """`count` visits over the year, by visitors of 1 or more visits, in time order."""
    channel = Chooser(range(len(CHANNELS)), [c.weight for c in CHANNELS]).many(rng, count)
    landing = Chooser(LANDINGS, LANDING_WEIGHTS).many(rng, count)
    device = Chooser([d for d, _ in DEVICES], [w for _, w in DEVICES]).many(rng, count)
    country = Chooser([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES]).many(rng, count)
    hour = Chooser(range(24), HOUR_WEIGHTS).many(rng, count)
    days, end = 365, plan.since + 365 * DAY - 1
    out: list[Visit] = []
    firsts: list[float] = []
    while len(out) < count:
        visitor, bot = len(firsts), rng.random() < BOT_SHARE
        n = min(1 if bot else _visit_count(rng), count - len(out))
        dev, where = ("bot", "US") if bot else (next(device), next(country))
        first = plan.since + rng.randrange(days) * DAY + (next(hour) + rng.random()) * 3600
        span = min(21 * DAY, end - first)
        times = [first, *sorted(first + rng.random() * span for _ in range(n - 1))]
        for j, t in enumerate(times):
            ch = DIRECT if j and rng.random() < 0.35 else next(channel)
            camp, kw = _campaign_of(rng, ch)
            out.append(Visit(t, visitor, ch, camp, kw, dev, where, next(landing), bot))
        firsts.append(first)
    out.sort(key=lambda v: v.t)
    plan.visits = out
    plan.session_ids = [_time_id(v.t, plan.seed, i) for i, v in enumerate(out)]
    plan.visitor_ids = [_time_id(t, plan.seed ^ 1, v) for v, t in enumerate(firsts)]


def _visit_count(rng: random.Random) -> int:
    """Geometric, mean ~1.42: most visitors come once."""
    n = 1
    while rng.random() < 0.296 and n < 30:
        n += 1
    return n


def _campaign_of(rng: random.Random, ch: int) -> tuple[str | None, str | None]:
    names = CAMPAIGNS.get(ch)
    if not names:
        return None, None
    i = min(int(rng.expovariate(0.2)), len(names) - 1)
    return names[i], _keyword(rng, ch, i)


def plan_calls(rng: random.Random, plan: Plan, count: int, numbers: Numbers) -> None:
    """`count` calls: 92% from a visit (more from the channels that call more), the rest
    matched to none (half on a static number, half on the default one)."""
    weights = [0.0 if v.bot else CHANNELS[v.channel].calls for v in plan.visits]
    cum: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        cum.append(total)
    matched = int(count * 0.92)
    picked = rng.choices(range(len(plan.visits)), cum_weights=cum, k=matched)
    end = plan.since + 365 * DAY - 1
    out = []
    for i in picked:
        v = plan.visits[i]
        t = min(v.t + rng.expovariate(1 / 600.0), end)
        caller: str | None = f"+79{int(_id('p', plan.seed, v.visitor)[:12], 16) % 10**9:09d}"
        number = _shown(plan, numbers, i)[1]
        ch = CHANNELS[v.channel]
        out.append(_call(rng, t, i, caller, number or numbers.default, ch.source, ch.medium))
    for _ in range(count - matched):
        t = plan.since + rng.random() * 365 * DAY
        caller = f"+79{rng.randrange(10**9):09d}" if rng.random() > 0.02 else None
        if rng.random() < 0.5:
            num, _e164, source, medium = rng.choice(numbers.static)
            out.append(_call(rng, t, None, caller, num, source, medium))
        else:
            out.append(_call(rng, t, None, caller, numbers.default, None, None))
    out.sort(key=lambda c: c.t)
    plan.calls = out


def _call(
    rng: random.Random,
    t: float,
    visit: int | None,
    caller: str | None,
    number: int,
    source: str | None,
    medium: str | None,
) -> CallPlan:
    answered = rng.random() < 0.82
    wait = rng.uniform(3, 25) if answered else rng.uniform(2, 60)
    talk = rng.lognormvariate(4.3, 1.0) if answered else 0.0
    spam = rng.random() < 0.03
    return CallPlan(t, visit, caller, number, source, medium, answered, wait, talk, spam)


# ----------------------------------------------------------------------------- the rows


def session_rows(plan: Plan, numbers: Numbers) -> Iterator[dict[str, Any]]:
    rng = random.Random(plan.seed + 1)
    for i, v in enumerate(plan.visits):
        ch = CHANNELS[v.channel]
        query, utm = _utm(v.channel, v.campaign, v.keyword)
        clicks = "{}"
        if ch.paid and ch.source in ("yandex", "google"):
            clicks = f'{{"yclid": "{i}"}}' if ch.source == "yandex" else f'{{"gclid": "Cj0{i:x}"}}'
        browser, os_name = rng.choice(BROWSERS.get(v.device, (("Googlebot", "Other"),)))
        reason, number = _shown(plan, numbers, i)
        yield {
            "id": plan.session_id(i),
            "account_id": plan.account_id,
            "site_id": plan.site_id,
            "visitor_id": plan.visitor_id(v.visitor),
            "started_at": v.t,
            "last_seen_at": v.t + rng.expovariate(1 / 120.0),
            "left_at": None,
            "landing_url": SITE_URL + v.path + query,
            "referrer": _referrer(ch),
            "source": ch.source,
            "medium": ch.medium,
            "campaign": v.campaign,
            "keyword": v.keyword,
            "content": None,
            "utm": utm,
            "click_ids": clicks,
            "client_ids": f'{{"_ym_uid": "{v.visitor}"}}',
            "user_agent": f"Mozilla/5.0 ({os_name}) {browser}",
            "device": v.device,
            "browser": browser,
            "os": os_name,
            "country": v.country,
            "number_id": number,
            "number_reason": reason,
            "visit_code": None,
        }


@functools.cache
def _utm(channel: int, campaign: str | None, keyword: str | None) -> tuple[str, str]:
    """The landing URL's query string and the session's `utm` (JSON text)."""
    ch = CHANNELS[channel]
    if not ch.paid and ch.medium != "newsletter":
        return "", "{}"
    utm = {"utm_source": ch.source, "utm_medium": ch.medium}
    if campaign:
        utm["utm_campaign"] = campaign
    if keyword:
        utm["utm_term"] = keyword.replace(" ", "+")
    return "?" + "&".join(f"{k}={val}" for k, val in utm.items()), json.dumps(utm)


def _referrer(ch: Channel) -> str | None:
    if ch.medium in ("organic", "cpc", "referral"):
        return f"https://{ch.source}.com/" if "." not in ch.source else f"https://{ch.source}/"
    return None


def _shown(plan: Plan, numbers: Numbers, i: int) -> tuple[str, int | None]:
    """The number visit `i` was shown, and why (the same for its session and its call)."""
    if plan.visits[i].bot:
        return "bot", None
    h = ((i + 1) * 2_654_435_761 + plan.seed) & 0xFFFF_FFFF
    if h % 1000 < EXHAUSTED_SHARE * 1000:
        return "exhausted", numbers.default
    return "pool", numbers.pool[(h >> 10) % len(numbers.pool)]


def visitor_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """Visitors in the order they first came (so their ids, which start with that time)."""
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    for v in plan.visits:  # in time order
        first.setdefault(v.visitor, v.t)
        last[v.visitor] = v.t
    for visitor, seen in first.items():
        yield {
            "site_id": plan.site_id,
            "id": plan.visitor_id(visitor),
            "account_id": plan.account_id,
            "first_seen": seen,
            "last_seen": last[visitor],
        }


def call_rows(plan: Plan, numbers: Numbers) -> Iterator[dict[str, Any]]:
    for i, c in enumerate(plan.calls):
        v = plan.visits[c.visit] if c.visit is not None else None
        ended = c.t + c.wait + c.talk
        yield {
            "id": plan.call_id(i),
            "account_id": plan.account_id,
            "integration_id": plan.integration_id,
            "provider_call_id": f"pbx-{i}",
            "site_id": plan.site_id,
            "number_id": c.number_id,
            "tracking_number": numbers.e164[c.number_id],
            "caller": c.caller,
            "forward_to": "+74951096375",
            "state": "ended",
            "status": "answered" if c.answered else "missed",
            "started_at": c.t,
            "answered_at": c.t + c.wait if c.answered else None,
            "ended_at": ended,
            "duration": ended - c.t,
            "talk": c.talk,
            "wait": c.wait,
            "recording_url": None,
            "session_id": plan.session_id(c.visit) if c.visit is not None else None,
            "visitor_id": plan.visitor_id(v.visitor) if v is not None else None,
            "match_method": "pool" if v is not None else "none",
            "confidence": 0.93 if v is not None else 0.0,
            "alternatives": "[]",
            "repeat": False,
            "first_call_id": None,
            "source": c.source,
            "medium": c.medium,
            "campaign": v.campaign if v is not None else None,
            "keyword": v.keyword if v is not None else None,
            "updated_at": ended,
        }


def lead_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """Leads as the classifier would judge the calls: a caller's first call is first-time;
    a missed one is lost unless the caller got through within a day."""
    rng = random.Random(plan.seed + 2)
    seen: set[str] = set()
    for i, c in enumerate(plan.calls):
        first = c.caller is None or c.caller not in seen
        if c.caller:
            seen.add(c.caller)
        window = RULES.callback_minutes * 60.0
        recovered = None if c.answered or rng.random() < 0.5 else rng.uniform(60, window)
        yield {
            "id": plan.call_id(i),
            "kind": "call",
            "account_id": plan.account_id,
            "site_id": plan.site_id,
            "call_id": plan.call_id(i),
            "started_at": c.t,
            "caller": c.caller,
            "first_time": first and not c.spam,
            "target": _target(c),
            "missed": not c.answered,
            "abandoned": not c.answered and c.wait <= RULES.abandoned_seconds,
            "lost": not c.answered and recovered is None,
            "recovered_after": recovered,
            "spam": c.spam,
            "spam_score": 0.95 if c.spam else 0.05,
            "spam_reason": "blocked number" if c.spam else None,
            "classified_at": c.t + 600,
        }


def _target(c: CallPlan) -> bool:
    return c.answered and c.talk >= RULES.target_talk and not c.spam


def credit_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """Each lead's credits under every model: its visitor's visits (bots left out) within
    the lookback up to the matched one, the last four at most."""
    journeys = _journeys(plan)
    for i, c in enumerate(plan.calls):
        touches = journeys.get(i) or [_own_touch(c)]
        plan.touches[len(touches)] += 1
        for model in MODELS:
            split = shares(touches, model, c.t, RULES.half_life_days)
            for n, (touch, share) in enumerate(zip(touches, split, strict=True)):
                if share > 0:
                    yield {
                        "lead_id": plan.call_id(i),
                        "model": model,
                        "n": n,
                        "session_id": touch.session_id,
                        "at": touch.at,
                        "source": touch.source,
                        "medium": touch.medium,
                        "campaign": touch.campaign,
                        "keyword": touch.keyword,
                        "share": share,
                    }


def _journeys(plan: Plan) -> dict[int, list[Touch]]:
    wanted: dict[int, list[int]] = {}  # visitor: calls
    for i, c in enumerate(plan.calls):
        if c.visit is not None:
            wanted.setdefault(plan.visits[c.visit].visitor, []).append(i)
    visits_of: dict[int, list[int]] = {}
    for j, v in enumerate(plan.visits):
        if v.visitor in wanted and not v.bot:
            visits_of.setdefault(v.visitor, []).append(j)
    out: dict[int, list[Touch]] = {}
    for visitor, call_ids in wanted.items():
        for i in call_ids:
            c = plan.calls[i]
            assert c.visit is not None
            before = [
                j for j in visits_of[visitor] if j <= c.visit and plan.visits[j].t >= c.t - LOOKBACK
            ]
            out[i] = [_touch(plan, j) for j in before[-MAX_TOUCHES:]]
    return out


def _touch(plan: Plan, j: int) -> Touch:
    v = plan.visits[j]
    ch = CHANNELS[v.channel]
    return Touch(v.t, ch.source, ch.medium, v.campaign, v.keyword, plan.session_id(j))


def _own_touch(c: CallPlan) -> Touch:
    return Touch(c.t, c.source or NOT_SET, c.medium or NOT_SET)


def deal_rows(plan: Plan, count: int, currency: str) -> Iterator[dict[str, Any]]:
    """85% linked to a call (target calls first), the rest to a visit."""
    rng = random.Random(plan.seed + 3)
    target = [i for i, c in enumerate(plan.calls) if _target(c)]
    by_call = rng.sample(target, min(len(target), int(count * 0.85)))
    humans = [j for j, v in enumerate(plan.visits) if not v.bot]
    by_visit = rng.sample(humans, count - len(by_call))
    linked: list[tuple[int | None, int | None]] = [(i, plan.calls[i].visit) for i in by_call]
    linked += [(None, j) for j in by_visit]
    for k, (call, visit) in enumerate(linked):
        c = plan.calls[call] if call is not None else None
        v = plan.visits[visit] if visit is not None else None
        contact = c.t if c is not None else v.t if v is not None else plan.since
        created = contact + rng.expovariate(1 / (2 * DAY))
        status = rng.choices(("won", "open", "lost"), (45, 30, 25))[0]
        yield {
            "account_id": plan.account_id,
            "site_id": plan.site_id,
            "external_id": f"crm-{k}",
            "title": f"Order {k}",
            "amount_cents": int(rng.lognormvariate(10.3, 0.8)) * 100,
            "currency": currency,
            "status": status,
            "closed_at": None if status == "open" else created + rng.uniform(DAY, 14 * DAY),
            "link": "call" if c is not None else "visitor",
            "call_id": plan.call_id(call) if call is not None else None,
            "session_id": plan.session_id(visit) if visit is not None else None,
            "visitor_id": plan.visitor_id(v.visitor) if v is not None else None,
            "caller": c.caller if c is not None else None,
            "visit_code": None,
            "created_at": created,
            "updated_at": created,
        }


def cost_rows(plan: Plan) -> Iterator[dict[str, Any]]:
    """A year of daily spend per cpc campaign, in cents of the site's currency."""
    rng = random.Random(plan.seed + 4)
    first = date(YEAR, 1, 1)
    for ch_index, names in CAMPAIGNS.items():
        ch = CHANNELS[ch_index]
        if not ch.paid:
            continue
        for rank, name in enumerate(names):
            daily = 40_000.0 / (rank + 1)  # roubles a day, the big campaigns first
            for d in range(365):
                day = first + timedelta(days=d)
                weekend = 0.7 if day.weekday() >= 5 else 1.0
                amount = daily * weekend * rng.uniform(0.7, 1.3)
                yield {
                    "account_id": plan.account_id,
                    "site_id": plan.site_id,
                    "origin": "csv",
                    "day": day.isoformat(),
                    "source": ch.source,
                    "medium": ch.medium,
                    "campaign": name,
                    "term": "",
                    "content": "",
                    "amount_cents": int(amount * 100),
                    "clicks": int(amount / 35),
                    "imported_at": plan.since + 366 * DAY,
                }


# ----------------------------------------------------------------------------- writing


class Progress:
    """A bar on stderr: redrawn in place on a terminal, a line every 10% otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.shown_tenth = -1

    def add(self, n: int) -> None:
        self.done += n
        frac = min(self.done / self.total, 1.0)
        tenth = int(frac * 10)
        if not self.tty and tenth == self.shown_tenth:
            return
        self.shown_tenth = tenth
        bar = "#" * int(frac * 30) + "." * (30 - int(frac * 30))
        line = (
            f"  {self.label:<13} [{bar}] {frac * 100:5.1f}% {self.done:>10,}/{self.total:,}"
            f"  {time.perf_counter() - self.t0:6.1f} s"
        )
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr)

    def close(self) -> float:
        if self.tty:
            print(file=sys.stderr)
        return time.perf_counter() - self.t0


def _write(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Straight to the driver (COPY on PostgreSQL): SQLAlchemy's per-row work made
    SQLite's load 3x slower. JSON columns are given as the text they store."""
    raw: Any = conn.connection.driver_connection
    names = ", ".join(rows[0])
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row.values()))
        return
    marks = ", ".join("?" * len(rows[0]))
    raw.executemany(
        f"INSERT INTO {table.name} ({names}) VALUES ({marks})", [tuple(r.values()) for r in rows]
    )


def load(engine: Engine, table: Table, rows: Iterator[dict[str, Any]], total: int) -> int:
    """Write `rows` in chunks, each in its own transaction; how many were written."""
    progress = Progress(table.name, total)
    size = CHUNK[engine.dialect.name]
    written, rows = 0, iter(rows)
    batch = list(itertools.islice(rows, size))
    while batch:
        with transaction(engine) as conn:
            _write(conn, table, batch)
        written += len(batch)
        progress.add(len(batch))
        batch = list(itertools.islice(rows, size))
    progress.close()
    return written


# ----------------------------------------------------------------------------- a backend


@dataclass(slots=True)
class Backend:
    name: str  # sqlite | postgresql
    url: str
    size: Callable[[], int]  # the database's size in bytes
    where: str  # how to reach it when kept


@dataclass(slots=True)
class Generated:
    plan: Plan
    counts: dict[str, int]
    seconds: dict[str, float]
    numbers: Numbers
    currency: str
    zone: str


def seed(engine: Engine, rng: random.Random) -> tuple[Plan, Numbers, str, str]:
    site = seed_site(engine, pool_size=30, name="Bench shop", domains=("shop.example",))
    now = time.time()
    with transaction(engine) as conn:
        statics = [
            _static(conn, site.account_id, site.site_id, label, source, medium, now)
            for label, source, medium in (
                ("Billboard", "billboard", "offline"),
                ("Radio", "radio", "offline"),
            )
        ]
        hook = setup.create_integration(conn, site.account_id, site.site_id, "generic", "PBX", now)
        row = conn.execute(select(sites).where(sites.c.id == site.site_id)).one()
        n = tracking_numbers.c
        listed = conn.execute(select(n.id, n.kind, n.e164).where(n.site_id == site.site_id)).all()
    numbers = Numbers(
        pool=[r.id for r in listed if r.kind == "pool"],
        default=next(r.id for r in listed if r.kind == "default"),
        static=statics,
        e164={r.id: r.e164 for r in listed},
    )
    since = Period(row.timezone, date(YEAR, 1, 1), date(YEAR, 12, 31)).since
    plan = Plan(rng.randrange(2**31), site.site_id, site.account_id, hook.id, since)
    return plan, numbers, str(row.currency), str(row.timezone)


def _static(
    conn: Connection, account: int, site: int, label: str, source: str, medium: str, now: float
) -> tuple[int, str, str, str]:
    e164 = next_number()
    data = setup.NumberInput(
        number=e164, kind="static", label=label, source=source, medium=medium, monthly_cost=1500
    )
    return setup.add_number(conn, account, site, data, now), e164, source, medium


def generate(engine: Engine, args: argparse.Namespace) -> Generated:
    rng = random.Random(args.seed)
    plan, numbers, currency, zone = seed(engine, rng)
    t0 = time.perf_counter()
    plan_visits(rng, plan, args.sessions)
    plan_calls(rng, plan, args.calls, numbers)
    seconds = {"plan": time.perf_counter() - t0}
    counts: dict[str, int] = {}
    steps: list[tuple[Table, Iterator[dict[str, Any]], int]] = [
        (sessions, session_rows(plan, numbers), len(plan.visits)),
        (visitors, visitor_rows(plan), len(plan.visitor_ids)),
        (calls, call_rows(plan, numbers), len(plan.calls)),
        (leads, lead_rows(plan), len(plan.calls)),
        (lead_credits, credit_rows(plan), len(plan.calls) * 8),
        (deals, deal_rows(plan, args.deals, currency), args.deals),
        (
            costs,
            cost_rows(plan),
            365 * sum(len(n) for i, n in CAMPAIGNS.items() if CHANNELS[i].paid),
        ),
    ]
    for table, rows, estimate in steps:
        t = time.perf_counter()
        counts[table.name] = load(engine, table, rows, estimate)
        seconds[table.name] = time.perf_counter() - t
    t = time.perf_counter()
    _after_load(engine)
    seconds["analyze"] = time.perf_counter() - t
    return Generated(plan, counts, seconds, numbers, currency, zone)


def _after_load(engine: Engine) -> None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would have after the load. SQLite: a WAL
    checkpoint only (the application never runs ANALYZE)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        checkpoint(engine)


# ----------------------------------------------------------------------------- timing


@dataclass(frozen=True, slots=True)
class Floor:
    """The floor's runs before the reports and after them: the machine may have got
    busier or quieter meanwhile. Ratios are to the median of all of them."""

    before: list[float]
    after: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.before + self.after)


@dataclass(slots=True)
class Timed:
    report: str
    group: str
    model: str
    median: float
    low: float


def runs_of(engine: Engine, fn: Callable[[Connection], object], runs: int) -> list[float]:
    """Seconds of each of `runs` runs of `fn`, each in a read transaction, after one
    warm-up run."""
    spent = []
    for i in range(runs + 1):
        t0 = time.perf_counter()
        with transaction(engine, write=False) as conn:
            fn(conn)
        if i:
            spent.append(time.perf_counter() - t0)
    return spent


def floor_query(site_id: int, period: Period) -> Any:
    se = sessions.c
    return (
        select(se.source, se.medium, func.count())
        .where(se.site_id == site_id, se.started_at >= period.since, se.started_at < period.until)
        .group_by(se.source, se.medium)
    )


def cases(
    site_id: int, currency: str, period: Period, all_models: bool
) -> list[tuple[str, str, str, Callable[[Connection], object]]]:
    """(report, group, model, what it runs) for every report timed."""
    shape = Shape()

    def table(group: str, model: str, side_by_side: bool = False) -> Callable[[Connection], object]:
        scope = Scope(site_id, currency, period, model, {})
        fn = analytics.models_side_by_side if side_by_side else analytics.breakdown
        return lambda conn: fn(conn, scope, GROUPS[group], shape)

    out = [("channels", "source", m, table("source", m)) for m in MODELS]
    out.append(("models", "source", "all six", table("source", DEFAULT_MODEL, True)))
    others = (
        ("landing-pages", "landing"),
        ("devices", "device"),
        ("geo", "country"),
        ("numbers", "number"),
        ("timeline", "day"),
        ("timeline", "month"),
    )
    for name, group in others:
        models = [DEFAULT_MODEL] if name == "numbers" or not all_models else list(MODELS)
        out += [(name, group, m if name != "numbers" else "-", table(group, m)) for m in models]
    out.append(("call-center", "-", "-", lambda conn: call_center.report(conn, site_id, period)))
    return out


def measure(engine: Engine, gen: Generated, args: argparse.Namespace) -> tuple[Floor, list[Timed]]:
    period = Period(gen.zone, date(YEAR, 1, 1), date(YEAR, 12, 31), engine.dialect.name)
    site_id = gen.plan.site_id
    floor_sql = floor_query(site_id, period)

    def floor(conn: Connection) -> object:
        return conn.execute(floor_sql).all()

    before = runs_of(engine, floor, args.runs)
    results = []
    todo = cases(site_id, gen.currency, period, args.all_models)
    progress = Progress("reports", len(todo))
    for report, group, model, fn in todo:
        spent = runs_of(engine, fn, args.runs)
        results.append(Timed(report, group, model, statistics.median(spent), min(spent)))
        progress.add(1)
    progress.close()
    after = runs_of(engine, floor, args.runs)
    return Floor(before, after), results


# ----------------------------------------------------------------------------- output


def describe(engine: Engine) -> str:
    """The database server's version and the settings that bear on these queries."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            names = ("server_version", "shared_buffers", "work_mem", "jit")
            shown = {n: str(conn.execute(text(f"SHOW {n}")).scalar_one()) for n in names}
            version = shown.pop("server_version").split()[0]
            return f"PostgreSQL {version}, " + ", ".join(f"{n} {v}" for n, v in shown.items())
        version = conn.exec_driver_sql("SELECT sqlite_version()").scalar_one()
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
        return f"SQLite {version}, cache_size {cache}"


def print_backend(
    backend: Backend, server: str, gen: Generated, floor: Floor, rows: list[Timed], runs: int
) -> list[str]:
    """The backend's figures; returns its goal lines (printed again at the end)."""
    total = sum(v for k, v in gen.seconds.items())
    print(f"\n== {server}: {backend.size() / 2**20:,.0f} MB after the load ==")
    print(f"generated in {total:.1f} s (planning {gen.seconds['plan']:.1f} s, then writing):")
    for name, count in gen.counts.items():
        print(f"  {name:<13} {count:>10,} rows  {gen.seconds[name]:6.1f} s")
    print(
        f"  {'analyze' if backend.name == 'postgresql' else 'checkpoint':<13} {'':>10}       "
        f"{gen.seconds['analyze']:6.1f} s"
    )
    print(f"journeys: {_touch_mix(gen.plan.touches)}")
    print(
        f"period {YEAR}-01-01..{YEAR}-12-31 ({gen.zone}); each figure: median of {runs} runs"
        " after one warm-up, in its own read transaction"
    )
    print(
        f"floor: SELECT source, medium, count(*) ... GROUP BY source, medium: "
        f"{floor.median:.3f} s (median before the reports {statistics.median(floor.before):.3f},"
        f" after {statistics.median(floor.after):.3f})"
    )
    head = (
        f"  {'report':<14} {'group':<8} {'model':<16} {'median s':>9} {'min s':>7} {'x floor':>8}"
    )
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in rows:
        print(
            f"  {r.report:<14} {r.group:<8} {r.model:<16} {r.median:>9.3f} {r.low:>7.3f} "
            f"{r.median / floor.median:>8.1f}"
        )
    return [goal_line(backend.name, floor.median, rows)]


def _touch_mix(touches: Counter[int]) -> str:
    total = sum(touches.values())
    if not total:
        return "none"
    mean = sum(k * v for k, v in touches.items()) / total
    mix = ", ".join(f"{k}: {v / total:.0%}" for k, v in sorted(touches.items()))
    return f"{mean:.2f} touches a lead on average ({mix})"


def goal_line(name: str, floor: float, rows: list[Timed]) -> str:
    channel = [r for r in rows if r.report == "channels"]
    worst = max(channel, key=lambda r: r.median)
    limit = GOAL_SECONDS[name]
    ratio = worst.median / floor if floor > 0 else math.inf
    seconds_ok, ratio_ok = worst.median <= limit, ratio <= GOAL_FLOOR_RATIO
    verdict = "met" if seconds_ok and ratio_ok else "NOT met"
    return (
        f"goal {name:<10}: channels, slowest model ({worst.model}) {worst.median:.3f} s "
        f"<= {limit:g} s: {'yes' if seconds_ok else 'no'}; {ratio:.1f}x floor "
        f"<= {GOAL_FLOOR_RATIO:g}x: {'yes' if ratio_ok else 'no'} -> {verdict}"
    )


# ----------------------------------------------------------------------------- backends


@contextlib.contextmanager
def open_backend(name: str, work: Path, args: argparse.Namespace) -> Iterator[Backend]:
    if name == "sqlite":
        path = work / "reports.db"
        yield Backend(name, f"sqlite:///{path}", lambda: _sqlite_size(path), str(path))
        return
    if args.postgres_url:
        from bench.tracker_load import _create_pg_database

        url, drop = _create_pg_database(args.postgres_url)
        try:
            yield Backend(name, url, lambda: _pg_size(url), url)
        finally:
            if not args.keep:
                drop()
        return
    cluster = PgCluster()
    try:
        url = cluster.start()
        where = f"{url}  (remove: python -m tests.throwaway_pg remove {cluster.dir})"
        yield Backend(name, url, lambda: _pg_size(url), where)
    finally:
        if not args.keep:
            cluster.remove()


def _sqlite_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def _pg_size(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    finally:
        engine.dispose()


def run_backend(backend: Backend, args: argparse.Namespace) -> list[str]:
    print(f"\n{backend.name}: generating {args.sessions:,} sessions ...", file=sys.stderr)
    migrate.upgrade(backend.url)
    engine = make_engine(backend.url)
    try:
        gen = generate(engine, args)
        server = describe(engine)
        floor, rows = measure(engine, gen, args)
    finally:
        engine.dispose()
    lines = print_backend(backend, server, gen, floor, rows, args.runs)
    if args.keep:
        print(f"kept: {backend.where}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    names = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    load_before = os.getloadavg()
    print(
        f"reports benchmark: {args.sessions:,} sessions, {args.calls:,} calls, "
        f"{args.deals:,} deals, seed {args.seed}; {os.cpu_count()} cores, load average "
        f"{load_before[0]:.2f} at the start"
    )
    goals: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="callpath-reports-"))
    try:
        for name in names:
            with open_backend(name, work, args) as backend:
                goals += run_backend(backend, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (this run's own work counts in)")
    for line in goals:
        print(line)
    return 0


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--db", choices=("sqlite", "postgresql", "postgres", "both"), default="both")
    p.add_argument("--sessions", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=50_000)
    p.add_argument("--deals", type=int, default=5_000)
    p.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--all-models", action="store_true", help="every table report, every model")
    p.add_argument(
        "--postgres-url", help="a server to create the database on (else a throwaway cluster)"
    )
    p.add_argument("--keep", action="store_true", help="keep the databases, print where")
    args = p.parse_args(argv)
    if args.db == "postgres":
        args.db = "postgresql"
    if args.runs < 1 or args.sessions < 1 or args.calls < 0 or args.deals < 0:
        p.error("--runs and --sessions at least 1; --calls and --deals not negative")
    return args


if __name__ == "__main__":
    sys.exit(main())
