"""Tracker use cases: start a session, keep its number alive, note its leave and clicks.

These are what the public `/t/v1/*` endpoints call, and what the trace replay calls with a
virtual clock. Each runs in one transaction on the given engine.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from callpath.domain import phone, pool_groups, visit_code
from callpath.domain.channel import Landing, parse_landing
from callpath.domain.site import SiteConfig
from callpath.services import enrich, visit_codes
from callpath.services.client_limits import Client
from callpath.storage import pool_repo, session_repo
from callpath.storage.db import batched, pipelined, transaction

EVENT_KINDS = ("tel_click",)
SiteLookup = Callable[[int], SiteConfig | None]
Clock = Callable[[], float]


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


@dataclass(frozen=True, slots=True)
class Assignment:
    session: str
    visitor: str
    number: str | None
    reason: str  # pool | default | excluded | exhausted | bot | client_limit | rate_limited | none
    hold_seconds: int
    visit_code: str | None = None  # shown next to the default number when exhausted

    @property
    def display(self) -> str | None:
        return phone.display(self.number) if self.number else None

    @property
    def national(self) -> str | None:
        return phone.national_digits(self.number) if self.number else None


def new_id(nbytes: int = 16) -> str:
    return secrets.token_urlsafe(nbytes)


def start_session(engine: Engine, site: SiteConfig, visit: Visit, clock: Clock) -> Assignment:
    visitor = visit.visitor or new_id(12)
    landing = parse_landing(visit.url, visit.referrer, site.own_hosts())
    with pipelined(engine) as conn:
        now = clock()  # read after BEGIN: on SQLite the write lock is held from here
        continued = _continue_session(conn, site, visit, visitor, landing, now)
        if continued is not None:
            return continued
        session_id = new_id()
        country = enrich.geo.country(visit.ip)
        with batched(conn):  # no results needed: one round trip on PostgreSQL
            _upsert_visitor(conn, site, visitor, now)
            device = _insert_session(conn, site, visit, visitor, session_id, landing, country, now)
        if device == "bot" and site.policy != "naive":
            # Crawlers and headless browsers never call: they must not drain the pool.
            return _fallback(conn, site, session_id, visitor, "bot", now)
        ch = landing.channel
        excluded = not site.substitutes(ch.source, ch.medium)
        if not excluded and site.pool_size and not _may_start(site, visit.client):
            return _refused(conn, site, session_id, visitor, "rate_limited", None, now)
        return _assign(
            conn,
            site,
            session_id,
            visitor,
            now,
            excluded=excluded,
            new_visitor=visit.visitor is None,
            order=_order(site, ch.source, ch.medium, country),
            client=visit.client,
        )


def _may_start(site: SiteConfig, client: Client | None) -> bool:
    """The client's pace of starts that seek a pool number (in memory, no I/O)."""
    return client is None or client.may_start(site.id)


def _refused(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    visitor: str,
    reason: str,
    previous: str | None,
    now: float,
) -> Assignment:
    """The default number for a client past its limits, with one event a visit (what the
    pool page counts)."""
    with batched(conn):
        if previous != reason:
            session_repo.add_event(
                conn,
                account_id=site.account_id,
                site_id=site.id,
                session_id=session_id,
                kind=reason,
                now=now,
            )
        return _fallback(conn, site, session_id, visitor, reason, now)


def _order(
    site: SiteConfig, source: str | None, medium: str | None, country: str | None
) -> pool_groups.Order:
    """Which sub-pools the session takes from, in turn (the naive reference: any number)."""
    if site.policy == "naive":
        return pool_groups.ANY_NUMBER
    ungrouped = site.pool_size if site.ungrouped_size is None else site.ungrouped_size
    return pool_groups.order_for(
        site.pool_groups,
        has_ungrouped=ungrouped > 0,
        source=source,
        medium=medium,
        country=country,
    )


def _upsert_visitor(conn: Connection, site: SiteConfig, visitor: str, now: float) -> None:
    session_repo.upsert_visitor(
        conn, site_id=site.id, account_id=site.account_id, visitor=visitor, now=now
    )


def _continue_session(
    conn: Connection, site: SiteConfig, visit: Visit, visitor: str, landing: Landing, now: float
) -> Assignment | None:
    """A further page of the same visit keeps its session (and number).

    A page that carries its own campaign tags is a new touch, hence a new session.
    """
    if not visit.session or landing.utm or landing.click_ids:
        return None
    row = session_repo.get_session(conn, visit.session)
    if (
        row is None
        or row["site_id"] != site.id
        or row["visitor_id"] != visitor
        or row["last_seen_at"] + site.pool.session_timeout < now
    ):
        return None
    with batched(conn):
        _upsert_visitor(conn, site, visitor, now)
        session_repo.add_pageview(
            conn, account_id=site.account_id, session_id=row["id"], url=visit.url, now=now
        )
    return _keep(conn, site, row, now, visit.client)


def _insert_session(
    conn: Connection,
    site: SiteConfig,
    visit: Visit,
    visitor: str,
    session_id: str,
    landing: Landing,
    country: str | None,
    now: float,
) -> str | None:
    """Insert the session and its first pageview; returns the device class."""
    ch = landing.channel
    device = enrich.parse_user_agent(visit.user_agent) if visit.user_agent else None
    session_repo.insert_session(
        conn,
        {
            "id": session_id,
            "account_id": site.account_id,
            "site_id": site.id,
            "visitor_id": visitor,
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
            "country": country,
            "number_reason": "none",
        },
    )
    session_repo.add_pageview(
        conn, account_id=site.account_id, session_id=session_id, url=visit.url, now=now
    )
    return device.device if device else None


def _assign(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    visitor: str,
    now: float,
    *,
    excluded: bool,
    previous: str | None = None,
    new_visitor: bool = False,
    code: str | None = None,
    order: pool_groups.Order,
    client: Client | None = None,
) -> Assignment:
    """Find the session a pool number.

    `previous` is the session's last number_reason, if it had one; a `new_visitor` (just
    created) has no number of its own to get back, which spares a lookup. `code`: the
    visit code the session still owns, shown again if the pool is still exhausted.
    `order`: the sub-pools it may take from (`_order`). `client`: who asks, held to its
    share of the pool.
    """
    if excluded:
        return _fallback(conn, site, session_id, visitor, "excluded", now)
    held = pool_repo.claim(
        conn,
        site_id=site.id,
        session_id=session_id,
        visitor=visitor,
        now=now,
        pool=site.pool,
        returning=not new_visitor,
        order=order,
        client=pool_repo.Client(client.key, client.cap(site.pool_size)) if client else None,
    )
    if held == pool_repo.CLIENT_LIMIT:
        return _refused(conn, site, session_id, visitor, "client_limit", previous, now)
    if not isinstance(held, pool_repo.Held):
        reason = "exhausted" if site.pool_size else "default"
        if site.pool_size and previous != "exhausted":  # one event per visit, not per ping
            session_repo.add_event(
                conn,
                account_id=site.account_id,
                site_id=site.id,
                session_id=session_id,
                kind="pool_exhausted",
                now=now,
            )
        return _fallback(conn, site, session_id, visitor, reason, now, code)
    with batched(conn):
        pool_repo.record(conn, held, account_id=site.account_id, site_id=site.id)
        session_repo.set_number(conn, session_id, now, held.number_id, "pool")
    return Assignment(session_id, visitor, held.e164, "pool", site.pool.hold_after_leave)


def _fallback(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    visitor: str,
    reason: str,
    now: float,
    code: str | None = None,
) -> Assignment:
    """The default number; with a visit code when it is shown because the pool is empty
    (a site without a pool, an opted-out channel or a bot gets none)."""
    reason = reason if site.default_number else "none"
    session_repo.set_number(conn, session_id, now, None, reason)
    if reason == "exhausted":
        code = visit_codes.for_session(conn, site, session_id, code, now)
    hold = site.pool.hold_after_leave
    return Assignment(session_id, visitor, site.default_number, reason, hold, code)


def _keep(
    conn: Connection,
    site: SiteConfig,
    row: dict[str, object],
    now: float,
    client: Client | None = None,
) -> Assignment:
    """Extend the session's hold, or find it a number again if the hold was lost (within
    the client's share of the pool; a rate-limited start keeps the default number for
    the visit)."""
    session_id, visitor = str(row["id"]), str(row["visitor_id"])
    number_id = row["number_id"]
    if isinstance(number_id, int) and pool_repo.extend(
        conn, number_id=number_id, session_id=session_id, now=now, pool=site.pool
    ):
        session_repo.touch_session(conn, session_id, now)
        return Assignment(session_id, visitor, str(row["e164"]), "pool", site.pool.hold_after_leave)
    previous = str(row["number_reason"])
    if previous in ("excluded", "bot", "rate_limited"):  # nothing that would earn a number
        return _fallback(conn, site, session_id, visitor, previous, now)
    return _assign(
        conn,
        site,
        session_id,
        visitor,
        now,
        excluded=False,
        previous=previous,
        code=_owned_code(row, now),
        order=_order(site, _text(row["source"]), _text(row["medium"]), _text(row["country"])),
        client=client,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _owned_code(row: dict[str, object], now: float) -> str | None:
    """The session's visit code, unless it was silent so long that the code may be
    someone else's by now."""
    code, seen = row["visit_code"], row["last_seen_at"]
    if isinstance(code, str) and isinstance(seen, int | float) and visit_code.keeps(seen, now):
        return code
    return None


@dataclass(frozen=True, slots=True)
class _Live:
    """A known session inside its transaction, with its site and the time."""

    conn: Connection
    row: dict[str, Any]
    site: SiteConfig
    now: float

    def renew_hold(self, until: float | None = None) -> None:
        """Push the hold forward (or end it at `until`) if the session still holds its
        number."""
        if isinstance(self.row["number_id"], int):
            pool_repo.extend(
                self.conn,
                number_id=self.row["number_id"],
                session_id=self.row["id"],
                now=self.now,
                pool=self.site.pool,
                until=until,
            )

    def release(self) -> None:
        """End the hold now (if the session still holds its number)."""
        self.renew_hold(until=self.now)


@contextmanager
def _live(
    engine: Engine, site_for: SiteLookup, session_id: str, clock: Clock
) -> Iterator[_Live | None]:
    with transaction(engine) as conn:
        now = clock()
        row = session_repo.get_session(conn, session_id)
        site = site_for(int(row["site_id"])) if row else None
        yield _Live(conn, row, site, now) if row and site else None


def ping(
    engine: Engine,
    site_for: SiteLookup,
    session_id: str,
    clock: Clock,
    client: Client | None = None,
) -> Assignment | None:
    """The page is still open and visible. None when the session is unknown."""
    with _live(engine, site_for, session_id, clock) as live:
        return _keep(live.conn, live.site, live.row, live.now, client) if live else None


def leave(
    engine: Engine, site_for: SiteLookup, session_id: str, clock: Clock, human: bool = True
) -> bool:
    """The page was closed: the hold runs out `hold_after_leave` from now.

    A page where the snippet saw no sign of a person in this tab (no input, scroll, tap,
    mouse move, return to the tab: `human` False) lets its number go at once: crawlers
    that run scripts leave pages that way. The number still rests a cooldown before a
    stranger gets it, and the matcher still scores this visit for a call that follows.
    """
    with _live(engine, site_for, session_id, clock) as live:
        if live is None:
            return False
        if human:
            live.renew_hold()
        else:
            live.release()
        session_repo.mark_left(live.conn, session_id, live.now)
        return True


def record_event(
    engine: Engine, site_for: SiteLookup, session_id: str, kind: str, clock: Clock
) -> bool:
    """A click on a phone link: a call is coming, so the hold is renewed too."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
    with _live(engine, site_for, session_id, clock) as live:
        if live is None:
            return False
        session_repo.add_event(
            live.conn,
            account_id=live.site.account_id,
            site_id=live.site.id,
            session_id=session_id,
            kind=kind,
            now=live.now,
        )
        live.renew_hold()
        session_repo.touch_session(live.conn, session_id, live.now)
        return True
