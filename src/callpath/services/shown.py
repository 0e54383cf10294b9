"""What a session is shown: a pool number claimed for it, or the default number and why.

The decision the tracker makes for a new session (`new_sessions`) and for a known one
that lost its number (`tracking`): it claims the number in the caller's transaction and
draws the visit code, and leaves the rest (history, the session's row, events) to the
caller, who writes a group's rows together.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.domain import phone, pool_groups
from callpath.domain.site import SiteConfig
from callpath.services import visit_codes
from callpath.services.client_limits import Client
from callpath.storage import group_claim, pool_repo


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


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a session is shown, and what that leaves to write."""

    number_id: int | None
    e164: str | None
    reason: str  # as Assignment.reason
    code: str | None = None  # the visit code shown with the default number
    held: pool_repo.Held | None = None  # a number just claimed: its history to record
    event: str | None = None  # the tracker event it makes (`session_events.kind`)


def event_row(site: SiteConfig, session_id: str, kind: str, now: float) -> dict[str, Any]:
    return {
        "account_id": site.account_id,
        "site_id": site.id,
        "session_id": session_id,
        "kind": kind,
        "at": now,
        "detail": None,
    }


def assignment(site: SiteConfig, session_id: str, visitor: str, got: Outcome) -> Assignment:
    hold = site.pool.hold_after_leave
    return Assignment(session_id, visitor, got.e164, got.reason, hold, got.code)


def pool_order(
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


def decide(
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
) -> Outcome:
    """Find the session a pool number (claimed here; the rest is the caller's to write).

    `previous` is the session's last number_reason, if it had one; a `new_visitor` (just
    created) has no number of its own to get back, which spares a lookup. `code`: the
    visit code the session still owns, shown again if the pool is still exhausted.
    `order`: the sub-pools it may take from (`pool_order`). `client`: who asks, held to its
    share of the pool. `codes`: visit codes given to sessions not written yet.
    """
    if excluded:
        return default(conn, site, session_id, "excluded", now)
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
    got = _claimed(site, held, previous)
    if got is not None:
        return got
    return _exhausted(conn, site, session_id, now, previous, code, codes)


def _claimed(
    site: SiteConfig, held: pool_repo.Held | str | None, previous: str | None
) -> Outcome | None:
    """What a claim's answer shows, unless the pool had nothing (None: `_exhausted`)."""
    if held == pool_repo.CLIENT_LIMIT:  # one event a visit (what the pool page counts)
        event = None if previous == "client_limit" else "client_limit"
        return _plain(site, "client_limit", event)
    if isinstance(held, pool_repo.Held):
        return Outcome(held.number_id, held.e164, "pool", held=held)
    return None


def _exhausted(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    now: float,
    previous: str | None,
    code: str | None,
    codes: set[str] | None,
) -> Outcome:
    reason = "exhausted" if site.pool_size else "default"
    # one event per visit, not per ping
    event = "pool_exhausted" if site.pool_size and previous != "exhausted" else None
    return default(conn, site, session_id, reason, now, event=event, code=code, codes=codes)


def decide_all(
    conn: Connection,
    site: SiteConfig,
    seekers: list[group_claim.Seeker],
    now: float,
    *,
    order: pool_groups.Order,
    cap: int | None,
    codes: set[str],
) -> list[Outcome]:
    """`decide` for new visitors' sessions of one site that look in the same sub-pools,
    on PostgreSQL: their numbers claimed in one statement (a step per sub-pool), and the
    visit codes of those left without one drawn together."""
    helds = group_claim.claim_all(
        conn, site_id=site.id, now=now, pool=site.pool, order=order, seekers=seekers, cap=cap
    )
    outcomes = [_claimed(site, held, None) for held in helds]
    empty = [i for i, got in enumerate(outcomes) if got is None]
    if site.pool_size:
        plain = _plain(site, "exhausted", "pool_exhausted")
    else:
        plain = _plain(site, "default", None)
    drawn: list[str | None] = [None] * len(empty)
    if plain.reason == "exhausted":
        drawn = visit_codes.draw_all(conn, site, len(empty), now, codes)
    for i, code in zip(empty, drawn, strict=True):
        outcomes[i] = dataclasses.replace(plain, code=code)
    return [got for got in outcomes if got is not None]


def _plain(site: SiteConfig, reason: str, event: str | None) -> Outcome:
    """The default number without a visit code."""
    return Outcome(
        None, site.default_number, reason if site.default_number else "none", event=event
    )


def default(
    conn: Connection,
    site: SiteConfig,
    session_id: str,
    reason: str,
    now: float,
    *,
    event: str | None = None,
    code: str | None = None,
    codes: set[str] | None = None,
) -> Outcome:
    """The default number; with a visit code when it is shown because the pool is empty
    (a site without a pool, an opted-out channel or a bot gets none)."""
    got = _plain(site, reason, event)
    if got.reason != "exhausted":
        return got
    return dataclasses.replace(got, code=visit_codes.draw(conn, site, session_id, code, now, codes))
