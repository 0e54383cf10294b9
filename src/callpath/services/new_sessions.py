"""New sessions: what can be known of a start before its transaction, and a round of new
sessions written together (one statement per table), each visitor once.

`tracking.start_sessions` runs a group of starts in one transaction and hands the new
sessions here, round by round.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from callpath.domain import pool_groups
from callpath.domain.channel import parse_landing
from callpath.domain.site import SiteConfig
from callpath.services import enrich, shown
from callpath.services.client_limits import Client
from callpath.services.geo import Locator, Place
from callpath.services.shown import Assignment
from callpath.storage import group_claim, pool_repo, prepared, session_repo
from callpath.storage.db import batched


@dataclass(frozen=True, slots=True)
class Visit:
    """What the snippet reports when a page loads (already size-checked)."""

    url: str
    referrer: str | None = None
    visitor: str | None = None
    session: str | None = None
    user_agent: str | None = None
    ip: str | None = None
    client_ids: dict[str, str] = field(default_factory=dict)
    # The per-client limits (the web endpoints; the trace replay models no abuse): None
    # lets any client hold any share of the pool and start sessions at any pace.
    client: Client | None = None
    # Where the address is placed (the app's `enrich.locator`); None: the country table.
    locator: Locator | None = None


# The URL-safe characters in their byte order, so encoded times sort as the times do.
_SORTED_DIGITS = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


def new_id(nbytes: int = 16) -> str:
    """A new session or visitor id: the time in milliseconds (7 characters that sort as
    the times do), then `nbytes` random bytes, all URL-safe. Ids made one after another
    sort together, so a new session's row and its index entries go where the last one's
    went instead of on a random page each (SQLite writes fewer pages per group, and
    PostgreSQL's indexes stay compact). The random part alone makes an id unguessable."""
    millis = time.time_ns() // 1_000_000
    stamp = "".join(_SORTED_DIGITS[(millis >> shift) & 63] for shift in range(36, -1, -6))
    return stamp + secrets.token_urlsafe(nbytes)


class Start:
    """One session start, as far as it can be known before the transaction."""

    __slots__ = ("_admitted", "landing", "site", "visit", "visitor")

    def __init__(self, site: SiteConfig, visit: Visit) -> None:
        self.site, self.visit = site, visit
        self.visitor = visit.visitor or new_id(12)
        self.landing = parse_landing(visit.url, visit.referrer, site.own_hosts())
        self._admitted: bool | None = None

    def may_start(self) -> bool:
        """The client's pace of starts that seek a pool number (in memory, no I/O);
        asked once, however often the start runs."""
        if self._admitted is None:
            client = self.visit.client
            self._admitted = client is None or client.may_start(self.site.id)
        return self._admitted


def one_each(
    starts: list[tuple[int, Start]],
) -> tuple[list[tuple[int, Start]], list[tuple[int, Start]]]:
    """The first start of each visitor, and the others."""
    seen: set[tuple[int, str]] = set()
    first: list[tuple[int, Start]] = []
    later: list[tuple[int, Start]] = []
    for item in starts:
        key = (item[1].site.id, item[1].visitor)
        (later if key in seen else first).append(item)
        seen.add(key)
    return first, later


@dataclass(frozen=True, slots=True)
class _New:
    """A new session of the group, before it is written."""

    start: Start
    session_id: str
    place: Place
    device: enrich.Device | None

    @classmethod
    def of(cls, start: Start) -> _New:
        visit = start.visit
        device = enrich.parse_user_agent(visit.user_agent) if visit.user_agent else None
        return cls(start, new_id(), (visit.locator or enrich.geo).place(visit.ip), device)


def write_new(conn: Connection, starts: list[Start], now: float) -> list[Assignment]:
    """New sessions, each visitor once: the numbers in turn (each claim sees the ones
    before it), then the rows (visitors, sessions, pageviews, holds, events), a
    statement for all of each (PostgreSQL: one statement for them all)."""
    news = [_New.of(start) for start in starts]
    codes: set[str] = set()  # visit codes given in this round, not written yet
    outcomes = _decide_round(conn, news, now, codes)
    # No results needed: one round trip on PostgreSQL, and the rows in one statement.
    with batched(conn), prepared.together(conn):
        session_repo.upsert_visitors(conn, [_visitor_row(new, now) for new in news])
        session_repo.insert_sessions(
            conn, [_session_row(new, got, now) for new, got in zip(news, outcomes, strict=True)]
        )
        session_repo.add_pageviews(conn, [_pageview_row(new, now) for new in news])
        for (account_id, site_id), holds in _holds_by_site(news, outcomes).items():
            pool_repo.record_all(conn, holds, account_id=account_id, site_id=site_id)
        session_repo.add_events(
            conn,
            [
                shown.event_row(new.start.site, new.session_id, got.event, now)
                for new, got in zip(news, outcomes, strict=True)
                if got.event
            ],
        )
    return [
        shown.assignment(new.start.site, new.session_id, new.start.visitor, got)
        for new, got in zip(news, outcomes, strict=True)
    ]


def _decide_round(
    conn: Connection, news: list[_New], now: float, codes: set[str]
) -> list[shown.Outcome]:
    """Each new session's number, in the group's order (each claim sees the ones before
    it). On PostgreSQL a run of new visitors' sessions that look in the same sub-pools
    claims its numbers together (`shown.decide_all`: one round trip for the run, not one
    each); the others, and every session on SQLite (where a claim costs no round trip),
    are decided one by one."""
    outcomes: dict[int, shown.Outcome] = {}
    run: list[int] = []
    run_key: tuple[int, pool_groups.Order] | None = None
    together = conn.dialect.name == "postgresql"

    def flush() -> None:
        if run_key is not None and len(run) > 1:
            picked = _decide_run(conn, [news[i] for i in run], run_key[1], now, codes)
            outcomes.update(zip(run, picked, strict=True))
        elif run_key is not None and run:  # one alone: the plain claim, planned once
            outcomes[run[0]] = _decide_new(conn, news[run[0]], now, codes, run_key[1])
        run.clear()

    for i, new in enumerate(news):
        why_not = _why_not(new)
        if why_not is not None:  # takes no number: nothing to keep in order with
            event = "rate_limited" if why_not == "rate_limited" else None
            outcomes[i] = shown.default(
                conn, new.start.site, new.session_id, why_not, now, event=event
            )
            continue
        seeks = _seeks(new)
        key = (new.start.site.id, seeks)
        joins = together and _new_visitor(new)
        if not joins or key != run_key:
            flush()
        if joins:
            run.append(i)
            run_key = key
        else:
            outcomes[i] = _decide_new(conn, new, now, codes, seeks)
    flush()
    return [outcomes[i] for i in range(len(news))]


def _decide_run(
    conn: Connection,
    run: list[_New],
    order: pool_groups.Order,
    now: float,
    codes: set[str],
) -> list[shown.Outcome]:
    site = run[0].start.site
    clients = [new.start.visit.client for new in run]
    cap = next((c.cap(site.pool_size) for c in clients if c is not None), None)
    seekers = [_seeker(new) for new in run]
    return shown.decide_all(conn, site, seekers, now, order=order, cap=cap, codes=codes)


def _seeks(new: _New) -> pool_groups.Order:
    """The sub-pools a new session that looks for a number looks in."""
    ch = new.start.landing.channel
    return shown.pool_order(new.start.site, ch.source, ch.medium, new.place.country)


def _why_not(new: _New) -> str | None:
    """Why a new session does not look for a pool number, if it does not."""
    start, site = new.start, new.start.site
    if new.device and new.device.device == "bot" and site.policy != "naive":
        # Crawlers and headless browsers never call: they must not drain the pool.
        return "bot"
    ch = start.landing.channel
    if not site.substitutes(ch.source, ch.medium):
        return "excluded"
    if site.pool_size and not start.may_start():
        return "rate_limited"
    return None


def _new_visitor(new: _New) -> bool:
    """A session with no number of its own to look for first, taking the idle longest."""
    pool = new.start.site.pool
    return pool.selection != "random" and (new.start.visit.visitor is None or not pool.sticky)


def _seeker(new: _New) -> group_claim.Seeker:
    client = new.start.visit.client
    return group_claim.Seeker(new.session_id, new.start.visitor, client.key if client else None)


def _decide_new(
    conn: Connection,
    new: _New,
    now: float,
    codes: set[str],
    seeks: pool_groups.Order,
) -> shown.Outcome:
    start, site = new.start, new.start.site
    return shown.decide(
        conn,
        site,
        new.session_id,
        start.visitor,
        now,
        excluded=False,
        new_visitor=start.visit.visitor is None,
        order=seeks,
        client=start.visit.client,
        codes=codes,
    )


def _holds_by_site(
    news: list[_New], outcomes: list[shown.Outcome]
) -> dict[tuple[int, int], list[pool_repo.Held]]:
    holds: dict[tuple[int, int], list[pool_repo.Held]] = {}
    for new, got in zip(news, outcomes, strict=True):
        if got.held is not None:
            site = new.start.site
            holds.setdefault((site.account_id, site.id), []).append(got.held)
    return holds


def _visitor_row(new: _New, now: float) -> dict[str, Any]:
    site = new.start.site
    return {
        "site_id": site.id,
        "id": new.start.visitor,
        "account_id": site.account_id,
        "first_seen": now,
        "last_seen": now,
    }


def _session_row(new: _New, got: shown.Outcome, now: float) -> dict[str, Any]:
    start, device = new.start, new.device
    site, visit, landing = start.site, start.visit, start.landing
    ch = landing.channel
    return {
        "id": new.session_id,
        "account_id": site.account_id,
        "site_id": site.id,
        "visitor_id": start.visitor,
        "started_at": now,
        "last_seen_at": now,
        "landing_url": visit.url,
        "referrer": visit.referrer,
        "source": ch.source,
        "medium": ch.medium,
        "campaign": ch.campaign,
        "keyword": ch.keyword,
        "content": ch.content,
        "utm": landing.utm,
        "click_ids": landing.click_ids,
        "client_ids": visit.client_ids,
        "user_agent": visit.user_agent,
        "device": device.device if device else None,
        "browser": device.browser if device else None,
        "os": device.os if device else None,
        "country": new.place.country,
        "region": new.place.region,
        "city": new.place.city,
        "number_id": got.number_id,
        "number_reason": got.reason,
        "visit_code": got.code,
    }


def _pageview_row(new: _New, now: float) -> dict[str, Any]:
    site = new.start.site
    return {
        "account_id": site.account_id,
        "session_id": new.session_id,
        "at": now,
        "url": new.start.visit.url,
    }
