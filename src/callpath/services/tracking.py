"""Tracker use cases: start a session, keep its number alive, note its leave and clicks.

These are what the public `/t/v1/*` endpoints call, and what the trace replay calls with a
virtual clock. Each runs in one transaction on the given engine; session starts that
arrive together run in one (`start_sessions`; new sessions: `new_sessions`, the number
shown: `shown`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from callpath.domain import visit_code
from callpath.domain.site import SiteConfig
from callpath.services import new_sessions, shown
from callpath.services.client_limits import Client
from callpath.services.new_sessions import Visit as Visit
from callpath.services.new_sessions import new_id as new_id
from callpath.services.shown import Assignment as Assignment
from callpath.storage import pool_repo, session_repo
from callpath.storage.db import WouldWait, batched, pipelined, transaction

EVENT_KINDS = ("tel_click",)
SiteLookup = Callable[[int], SiteConfig | None]
Clock = Callable[[], float]


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
    pending = [new_sessions.Start(site, visit) for site, visit in starts]
    try:
        with pipelined(engine) as conn:
            return list(_started(conn, pending, clock()))  # the time: after BEGIN
    except (OperationalError, WouldWait):
        raise
    except Exception:
        if len(pending) == 1:
            raise
    return [_alone(engine, start, clock) for start in pending]


def _alone(engine: Engine, start: new_sessions.Start, clock: Clock) -> Assignment | Exception:
    try:
        with pipelined(engine) as conn:
            return _started(conn, [start], clock())[0]
    except (OperationalError, WouldWait):
        raise
    except Exception as exc:  # this start's own: its request is answered with it
        return exc


def _started(conn: Connection, starts: list[new_sessions.Start], now: float) -> list[Assignment]:
    """The group's starts: further pages of known sessions continue them; new sessions
    are written together, in rounds where each visitor comes once (a second new session
    of one visitor must see the number the first one took)."""
    done: dict[int, Assignment] = {}
    fresh: list[tuple[int, new_sessions.Start]] = []
    for i, start in enumerate(starts):
        continued = _continue_session(conn, start, now)
        if continued is None:
            fresh.append((i, start))
        else:
            done[i] = continued
    while fresh:
        this_round, fresh = new_sessions.one_each(fresh)
        news = new_sessions.write_new(conn, [start for _, start in this_round], now)
        done.update(zip((i for i, _ in this_round), news, strict=True))
    return [done[i] for i in range(len(starts))]


def _continue_session(conn: Connection, start: new_sessions.Start, now: float) -> Assignment | None:
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


def _write(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    now: float,
    got: shown.Outcome,
    kept: str | None,
) -> None:
    """What a known session was shown anew (`_keep`): its number, history, code, event."""
    with batched(conn):
        if got.event:
            session_repo.add_events(conn, [shown.event_row(site, session_id, got.event, now)])
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
        got = shown.default(conn, site, session_id, previous, now)
    else:
        got = shown.decide(
            conn,
            site,
            session_id,
            visitor,
            now,
            excluded=False,
            previous=previous,
            code=kept,
            order=shown.pool_order(
                site, _text(row["source"]), _text(row["medium"]), _text(row["country"])
            ),
            client=client,
        )
    _write(conn, site, session_id, now, got, kept)
    return shown.assignment(site, session_id, visitor, got)


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
