"""Tracker use cases: start a session, keep its number alive, note its leave and clicks.

These are what the public `/t/v1/*` endpoints call, and what the trace replay calls with a
virtual clock. Each runs in one transaction on the given engine.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from callpath.domain import phone, pool_groups, visit_code
from callpath.domain.channel import parse_landing
from callpath.domain.site import SiteConfig
from callpath.services import enrich, visit_codes
from callpath.services.client_limits import Client
from callpath.storage import pool_repo, session_repo
from callpath.storage.db import WouldWait, batched, pipelined, transaction

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
    started = start_sessions(engine, [(site, visit)], clock)[0]
    if isinstance(started, Exception):
        raise started
    return started


def start_sessions(
    engine: Engine, starts: Sequence[tuple[SiteConfig, Visit]], clock: Clock
) -> list[Assignment | Exception]:
    """Several session starts in one transaction: one BEGIN and one COMMIT for them all
    (a group commit), and the new sessions, their visitors, pageviews, holds and events
    written a statement for all of them each. Each start sees the ones before it, as if
    they came one after another.

    One start's error (hostile input the database refused, say) rolls the group back,
    and then each runs alone, so the others are answered and the error is only its own.
    An error of the database itself (unavailable, busy, `WouldWait`) is the group's.
    """
    pending = [_Start(site, visit) for site, visit in starts]
    try:
        with pipelined(engine) as conn:
            return list(_started(conn, pending, clock()))  # the time: after BEGIN
    except (OperationalError, WouldWait):
        raise
    except Exception:
        if len(pending) == 1:
            raise
    return [_alone(engine, start, clock) for start in pending]


def _alone(engine: Engine, start: _Start, clock: Clock) -> Assignment | Exception:
    try:
        with pipelined(engine) as conn:
            return _started(conn, [start], clock())[0]
    except (OperationalError, WouldWait):
        raise
    except Exception as exc:  # this start's own: its request is answered with it
        return exc


class _Start:
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


def _started(conn: Connection, starts: list[_Start], now: float) -> list[Assignment]:
    """The group's starts: further pages of known sessions continue them; new sessions
    are written together, in rounds where each visitor comes once (a second new session
    of one visitor must see the number the first one took)."""
    done: dict[int, Assignment] = {}
    fresh: list[tuple[int, _Start]] = []
    for i, start in enumerate(starts):
        continued = _continue_session(conn, start, now)
        if continued is None:
            fresh.append((i, start))
        else:
            done[i] = continued
    while fresh:
        this_round, fresh = _one_each(fresh)
        news = _new_sessions(conn, [start for _, start in this_round], now)
        done.update(zip((i for i, _ in this_round), news, strict=True))
    return [done[i] for i in range(len(starts))]


def _one_each(
    starts: list[tuple[int, _Start]],
) -> tuple[list[tuple[int, _Start]], list[tuple[int, _Start]]]:
    """The first start of each visitor, and the others."""
    seen: set[tuple[int, str]] = set()
    first: list[tuple[int, _Start]] = []
    later: list[tuple[int, _Start]] = []
    for item in starts:
        key = (item[1].site.id, item[1].visitor)
        (later if key in seen else first).append(item)
        seen.add(key)
    return first, later


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a session is shown, and what that leaves to write."""

    number_id: int | None
    e164: str | None
    reason: str  # as Assignment.reason
    code: str | None = None  # the visit code shown with the default number
    held: pool_repo.Held | None = None  # a number just claimed: its history to record
    event: str | None = None  # the tracker event it makes (`session_events.kind`)


@dataclass(frozen=True, slots=True)
class _New:
    """A new session of the group, before it is written."""

    start: _Start
    session_id: str
    country: str | None
    device: enrich.Device | None

    @classmethod
    def of(cls, start: _Start) -> _New:
        ua = start.visit.user_agent
        device = enrich.parse_user_agent(ua) if ua else None
        return cls(start, new_id(), enrich.geo.country(start.visit.ip), device)


def _new_sessions(conn: Connection, starts: list[_Start], now: float) -> list[Assignment]:
    """New sessions, each visitor once: their visitors first, then the numbers in turn
    (each claim sees the ones before it), then the rows, a statement for all of each."""
    news = [_New.of(start) for start in starts]
    with batched(conn):  # no results needed: one round trip on PostgreSQL
        session_repo.upsert_visitors(conn, [_visitor_row(new, now) for new in news])
    codes: set[str] = set()  # visit codes given in this round, not written yet
    outcomes = [_decide_new(conn, new, now, codes) for new in news]
    with batched(conn):
        session_repo.insert_sessions(
            conn, [_session_row(new, got, now) for new, got in zip(news, outcomes, strict=True)]
        )
        session_repo.add_pageviews(conn, [_pageview_row(new, now) for new in news])
        for (account_id, site_id), holds in _holds_by_site(news, outcomes).items():
            pool_repo.record_all(conn, holds, account_id=account_id, site_id=site_id)
        session_repo.add_events(
            conn,
            [
                _event_row(new.start.site, new.session_id, got.event, now)
                for new, got in zip(news, outcomes, strict=True)
                if got.event
            ],
        )
    return [
        _assignment(new.start.site, new.session_id, new.start.visitor, got)
        for new, got in zip(news, outcomes, strict=True)
    ]


def _decide_new(conn: Connection, new: _New, now: float, codes: set[str]) -> _Outcome:
    start, site = new.start, new.start.site
    if new.device and new.device.device == "bot" and site.policy != "naive":
        # Crawlers and headless browsers never call: they must not drain the pool.
        return _default(conn, site, new.session_id, "bot", now)
    ch = start.landing.channel
    excluded = not site.substitutes(ch.source, ch.medium)
    if not excluded and site.pool_size and not start.may_start():
        return _default(conn, site, new.session_id, "rate_limited", now, event="rate_limited")
    return _decide(
        conn,
        site,
        new.session_id,
        start.visitor,
        now,
        excluded=excluded,
        new_visitor=start.visit.visitor is None,
        order=_order(site, ch.source, ch.medium, new.country),
        client=start.visit.client,
        codes=codes,
    )


def _holds_by_site(
    news: list[_New], outcomes: list[_Outcome]
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


def _session_row(new: _New, got: _Outcome, now: float) -> dict[str, Any]:
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
        "country": new.country,
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


def _event_row(site: SiteConfig, session_id: str, kind: str, now: float) -> dict[str, Any]:
    return {
        "account_id": site.account_id,
        "site_id": site.id,
        "session_id": session_id,
        "kind": kind,
        "at": now,
        "detail": None,
    }


def _assignment(site: SiteConfig, session_id: str, visitor: str, got: _Outcome) -> Assignment:
    hold = site.pool.hold_after_leave
    return Assignment(session_id, visitor, got.e164, got.reason, hold, got.code)


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


def _continue_session(conn: Connection, start: _Start, now: float) -> Assignment | None:
    """A further page of the same visit keeps its session (and number).

    A page that carries its own campaign tags is a new touch, hence a new session.
    """
    site, visit, landing = start.site, start.visit, start.landing
    if not visit.session or landing.utm or landing.click_ids:
        return None
    row = session_repo.get_session(conn, visit.session)
    if (
        row is None
        or row["site_id"] != site.id
        or row["visitor_id"] != start.visitor
        or row["last_seen_at"] + site.pool.session_timeout < now
    ):
        return None
    with batched(conn):
        session_repo.upsert_visitor(
            conn, site_id=site.id, account_id=site.account_id, visitor=start.visitor, now=now
        )
        session_repo.add_pageview(
            conn, account_id=site.account_id, session_id=row["id"], url=visit.url, now=now
        )
    return _keep(conn, site, row, now, visit.client)


def _decide(
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
    codes: set[str] | None = None,
) -> _Outcome:
    """Find the session a pool number (claimed here; the rest is the caller's to write).

    `previous` is the session's last number_reason, if it had one; a `new_visitor` (just
    created) has no number of its own to get back, which spares a lookup. `code`: the
    visit code the session still owns, shown again if the pool is still exhausted.
    `order`: the sub-pools it may take from (`_order`). `client`: who asks, held to its
    share of the pool. `codes`: visit codes given to sessions not written yet.
    """
    if excluded:
        return _default(conn, site, session_id, "excluded", now)
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
    if held == pool_repo.CLIENT_LIMIT:  # one event a visit (what the pool page counts)
        event = None if previous == "client_limit" else "client_limit"
        return _default(conn, site, session_id, "client_limit", now, event=event)
    if not isinstance(held, pool_repo.Held):
        reason = "exhausted" if site.pool_size else "default"
        # one event per visit, not per ping
        event = "pool_exhausted" if site.pool_size and previous != "exhausted" else None
        return _default(conn, site, session_id, reason, now, event=event, code=code, codes=codes)
    return _Outcome(held.number_id, held.e164, "pool", held=held)


def _default(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    reason: str,
    now: float,
    *,
    event: str | None = None,
    code: str | None = None,
    codes: set[str] | None = None,
) -> _Outcome:
    """The default number; with a visit code when it is shown because the pool is empty
    (a site without a pool, an opted-out channel or a bot gets none)."""
    reason = reason if site.default_number else "none"
    if reason == "exhausted":
        code = visit_codes.draw(conn, site, session_id, code, now, codes)
    else:
        code = None
    return _Outcome(None, site.default_number, reason, code=code, event=event)


def _write(
    conn: Connection, site: SiteConfig, session_id: str, now: float, got: _Outcome, kept: str | None
) -> None:
    """What a known session was shown anew (`_keep`): its number, history, code, event."""
    with batched(conn):
        if got.event:
            session_repo.add_events(conn, [_event_row(site, session_id, got.event, now)])
        if got.held is not None:
            pool_repo.record(conn, got.held, account_id=site.account_id, site_id=site.id)
        session_repo.set_number(conn, session_id, now, got.number_id, got.reason)
        if got.code is not None and got.code != kept:
            session_repo.set_visit_code(conn, session_id, got.code)


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
    kept = _owned_code(row, now)
    if previous in ("excluded", "bot", "rate_limited"):  # nothing that would earn a number
        got = _default(conn, site, session_id, previous, now)
    else:
        got = _decide(
            conn,
            site,
            session_id,
            visitor,
            now,
            excluded=False,
            previous=previous,
            code=kept,
            order=_order(site, _text(row["source"]), _text(row["medium"]), _text(row["country"])),
            client=client,
        )
    _write(conn, site, session_id, now, got, kept)
    return _assignment(site, session_id, visitor, got)


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
