"""What the ad platforms' upload files are made of: a site's inbound calls of a period with
their visit (landing page, click ids, analytics client ids), what the call counts as (its
lead) and the money of the deals it won.

Only ended calls (an outcome and a talk time are known), never calls out, never spam.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, false, func, or_, select

from callpath.reports.period import Period
from callpath.storage.tables import calls, deals, leads, sessions

CHUNK = 500  # call ids per IN list when the deals are looked up
k, se, ld, d = calls.c, sessions.c, leads.c, deals.c


@dataclass(frozen=True, slots=True)
class Won:
    """The won deals' money of a call, in hundredths of `currency`."""

    cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class ExportCall:
    """One call as the export files need it; None where callpath does not know."""

    id: str
    started_at: float
    caller: str | None
    static: bool  # the call came to a static number (its channel is the number's)
    answered: bool
    talk: float
    wait: float
    landing_url: str | None = None
    click_ids: Mapping[str, str] = field(default_factory=dict)
    client_ids: Mapping[str, str] = field(default_factory=dict)
    first_time: bool | None = None  # None: not classified yet
    target: bool | None = None
    won: Won | None = None


def calls_of(
    conn: Connection, account_id: int, site_id: int, period: Period, currency: str
) -> list[ExportCall]:
    """The site's ended inbound calls that are not spam, started in `period`, oldest
    first. A call whose won deals are in several currencies shows the sum in `currency`
    (the site's) when there is one, else in the currency with the largest sum."""
    return calls_between(conn, account_id, site_id, period.since, period.until, currency)


def calls_between(
    conn: Connection, account_id: int, site_id: int, since: float, until: float, currency: str
) -> list[ExportCall]:
    """`calls_of` the calls started in [since, until) (UTC seconds): a rolling window."""
    query = (
        select(
            k.id,
            k.started_at,
            k.caller,
            k.match_method,
            k.status,
            k.talk,
            k.wait,
            se.landing_url,
            se.click_ids,
            se.client_ids,
            ld.first_time,
            ld.target,
        )
        .select_from(
            calls.outerjoin(sessions, se.id == k.session_id).outerjoin(leads, ld.call_id == k.id)
        )
        .where(
            k.account_id == account_id,
            k.site_id == site_id,
            k.direction == "inbound",
            k.state == "ended",
            k.started_at >= since,
            k.started_at < until,
            or_(ld.spam.is_(None), ld.spam == false()),
        )
        .order_by(k.started_at, k.id)
    )
    rows = list(conn.execute(query))
    won = _won(conn, site_id, [r.id for r in rows], currency)
    return [_call(dict(r._mapping), won.get(r.id)) for r in rows]


def _call(row: Mapping[str, Any], won: Won | None) -> ExportCall:
    return ExportCall(
        id=row["id"],
        started_at=float(row["started_at"]),
        caller=row["caller"],
        static=row["match_method"] == "static",
        answered=row["status"] == "answered",
        talk=float(row["talk"] or 0),
        wait=float(row["wait"] or 0),
        landing_url=row["landing_url"],
        click_ids=_strings(row["click_ids"]),
        client_ids=_strings(row["client_ids"]),
        first_time=row["first_time"],
        target=row["target"],
        won=won,
    )


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(name): v for name, v in value.items() if isinstance(v, str)}


def _won(conn: Connection, site_id: int, ids: list[str], currency: str) -> dict[str, Won]:
    sums: dict[str, dict[str, int]] = defaultdict(dict)
    for chunk in _chunks(ids):
        query = (
            select(d.call_id, d.currency, func.sum(d.amount_cents).label("cents"))
            .where(d.site_id == site_id, d.status == "won", d.call_id.in_(chunk))
            .group_by(d.call_id, d.currency)
        )
        for row in conn.execute(query):
            sums[row.call_id][row.currency] = int(row.cents)
    return {call_id: _pick(by_currency, currency) for call_id, by_currency in sums.items()}


def _pick(by_currency: dict[str, int], currency: str) -> Won:
    if currency in by_currency:
        return Won(by_currency[currency], currency)
    cents, code = max((cents, code) for code, cents in by_currency.items())
    return Won(cents, code)


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]
