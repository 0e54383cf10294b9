"""What a session is shown: a pool number claimed for it, or the default number and why.

The decision the tracker makes for a new session (`new_sessions`) and for a known one
that lost its number (`tracking`): it claims the number in the caller's transaction and
draws the visit code, and leaves the rest (history, the session's row, events) to the
caller, who writes a group's rows together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.domain import phone, pool_groups
from callpath.domain.site import SiteConfig
from callpath.services import visit_codes
from callpath.services.client_limits import Client
from callpath.storage import pool_repo


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
    if held == pool_repo.CLIENT_LIMIT:  # one event a visit (what the pool page counts)
        event = None if previous == "client_limit" else "client_limit"
        return default(conn, site, session_id, "client_limit", now, event=event)
    if not isinstance(held, pool_repo.Held):
        reason = "exhausted" if site.pool_size else "default"
        # one event per visit, not per ping
        event = "pool_exhausted" if site.pool_size and previous != "exhausted" else None
        return default(conn, site, session_id, reason, now, event=event, code=code, codes=codes)
    return Outcome(held.number_id, held.e164, "pool", held=held)


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
    reason = reason if site.default_number else "none"
    if reason == "exhausted":
        code = visit_codes.draw(conn, site, session_id, code, now, codes)
    else:
        code = None
    return Outcome(None, site.default_number, reason, code=code, event=event)
