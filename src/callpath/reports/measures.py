"""The counts behind the analytics reports, one query per kind, grouped by a dimension.

- visits: the site's sessions started in the period (bots, by their user agent, left
  out: `device` is written once, at the start, so the covering indexes
  `ix_sessions_channel` and `ix_sessions_visitor` answer visits and visitors without
  reading the table);
- leads: calls started in the period, each counted by its credit share under the model
  (`lead_credits`: stored when the lead is classified, so a report is a sum, not a replay
  of journeys); or whole, by the number that rang (`credited=False`);
- deals: counted in the period of the contact they came from (the call, or the visit),
  so a period's spend is set against what its leads brought; credited like their lead,
  or whole to the visit they were linked to. Deals in another currency than the site's
  are not summed with its money: they are counted apart (`foreign_deals`);
- spend: imported costs per day and channel, and static numbers' monthly cost spread
  over the days (a pool number's cost belongs to no channel: the numbers report only).

Each function returns {key values: counts}; the engine merges them into rows.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Float, Select, and_, case, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from callpath.domain.channel import NOT_SET
from callpath.reports.dimensions import (
    CHANNEL,
    COST_COLUMNS,
    TIME,
    Dimension,
    Where,
    matches,
)
from callpath.reports.period import Period
from callpath.storage.tables import (
    calls,
    costs,
    deals,
    lead_credits,
    leads,
    sessions,
    tracking_numbers,
)

Counts = dict[str, float]
Grouped = dict[tuple[Any, ...], Counts]
BOT = "bot"
se, ld, lc, k, d, co, n = (
    sessions.c,
    leads.c,
    lead_credits.c,
    calls.c,
    deals.c,
    costs.c,
    tracking_numbers.c,
)


@dataclass(frozen=True, slots=True)
class Scope:
    """One report's request: the site, its period, the model, the filters."""

    site_id: int
    currency: str
    period: Period
    model: str
    filters: dict[str, str]


def _filtered(where: Where, scope: Scope) -> list[ColumnElement[bool]]:
    return [matches(where.attribute(name), value) for name, value in scope.filters.items()]


def _grouped(conn: Connection, query: Any, width: int, names: Sequence[str]) -> Grouped:
    out: Grouped = {}
    for row in conn.execute(query):
        key = tuple(row[:width])
        out[key] = {name: float(row[width + i] or 0.0) for i, name in enumerate(names)}
    return out


def visits(conn: Connection, scope: Scope, dim: Dimension) -> Grouped:
    query = visits_query(scope, dim)
    return _grouped(conn, query, len(query.selected_columns) - 2, ("visits", "visitors"))


def visits_query(scope: Scope, dim: Dimension) -> Select[Any]:
    """Visits and distinct visitors per key of `dim`."""
    where = Where(
        lambda name: se[name], sessions, se.started_at, se.number_id, scope.period.dialect
    )
    keys = dim.exprs(where, scope.period)
    return (
        select(*keys, func.count(), func.count(se.visitor_id.distinct()))
        .where(
            se.site_id == scope.site_id,
            se.started_at >= scope.period.since,
            se.started_at < scope.period.until,
            _person(),
            *_filtered(where, scope),
        )
        .group_by(*keys)
    )


def _person() -> ColumnElement[bool]:
    """A session of a person: no bot by its user agent."""
    return se.device.is_(None) | (se.device != BOT)


def _sum_if(flag: ColumnElement[Any], share: ColumnElement[float]) -> ColumnElement[float]:
    return func.sum(case((flag, share), else_=0.0))


_ANSWERED = (k.status == "answered") | k.answered_at.is_not(None)


def leads_by(conn: Connection, scope: Scope, dim: Dimension, credited: bool = True) -> Grouped:
    """Leads of calls started in the period; `credited`: split by the model's credits
    (a channel's share of each journey), otherwise whole, to the call itself."""
    touch = sessions.alias("touch")
    share: ColumnElement[float]
    if credited:
        share = lc.share
        where = Where(
            lambda name: lc[name], touch, ld.started_at, k.number_id, scope.period.dialect
        )
        joined = lead_credits.join(leads, ld.id == lc.lead_id).join(calls, k.id == ld.call_id)
        if _needs_session(dim, scope):
            joined = joined.outerjoin(touch, touch.c.id == lc.session_id)
        model: list[ColumnElement[bool]] = [lc.model == scope.model]
    else:
        share = cast(literal(1.0), Float)
        where = Where(lambda name: k[name], touch, ld.started_at, k.number_id, scope.period.dialect)
        joined = leads.join(calls, k.id == ld.call_id)
        if _needs_session(dim, scope):
            joined = joined.outerjoin(touch, touch.c.id == k.session_id)
        model = []
    keys = dim.exprs(where, scope.period)
    query = (
        select(
            *keys,
            func.sum(share),
            _sum_if(_ANSWERED, share),
            _sum_if(ld.missed, share),
            _sum_if(ld.first_time, share),
            _sum_if(ld.target, share),
            _sum_if(~ld.spam, share),
            func.count(ld.caller.distinct()),
        )
        .select_from(joined)
        .where(
            ld.site_id == scope.site_id,
            ld.kind == "call",
            ld.started_at >= scope.period.since,
            ld.started_at < scope.period.until,
            *model,
            *_filtered(where, scope),
        )
        .group_by(*keys)
    )
    names = ("calls", "answered", "missed", "first_time", "target", "leads", "unique_callers")
    return _grouped(conn, query, len(keys), names)


def _needs_session(dim: Dimension, scope: Scope) -> bool:
    return dim.uses_session or any(name not in CHANNEL for name in scope.filters)


def deals_by(
    conn: Connection, scope: Scope, dim: Dimension, credited: bool = True
) -> tuple[Grouped, int]:
    """Deals in the site's currency by the contact they came from; and how many deals in
    other currencies the period holds (left out of the sums)."""
    touch = sessions.alias("touch")
    tc = touch.c
    joined = deals.outerjoin(leads, ld.id == d.call_id).outerjoin(calls, k.id == d.call_id)
    contact = func.coalesce(ld.started_at, tc.started_at, d.created_at)
    share: ColumnElement[float]
    if credited:
        credit = lead_credits.alias("credit")
        cr = credit.c
        joined = joined.outerjoin(
            credit, and_(cr.lead_id == d.call_id, cr.model == scope.model)
        ).outerjoin(touch, tc.id == func.coalesce(cr.session_id, d.session_id))
        share = func.coalesce(cr.share, 1.0)
        where = Where(
            lambda name: func.coalesce(cr[name], tc[name]),
            touch,
            contact,
            k.number_id,
            scope.period.dialect,
        )
    else:
        joined = joined.outerjoin(touch, tc.id == d.session_id)
        share = cast(literal(1.0), Float)
        where = Where(lambda name: tc[name], touch, contact, k.number_id, scope.period.dialect)
    keys = dim.exprs(where, scope.period)
    won = d.status == "won"
    in_period = [
        d.site_id == scope.site_id,
        contact >= scope.period.since,
        contact < scope.period.until,
        *_filtered(where, scope),
    ]
    query = (
        select(
            *keys,
            func.sum(share),
            _sum_if(won, share),
            _sum_if(won, share * d.amount_cents),
        )
        .select_from(joined)
        .where(*in_period, d.currency == scope.currency)
        .group_by(*keys)
    )
    grouped = _grouped(conn, query, len(keys), ("deals", "won", "revenue"))
    for counts in grouped.values():
        counts["revenue"] /= 100.0
    foreign = (
        select(func.count()).select_from(joined).where(*in_period, d.currency != scope.currency)
    )
    return grouped, int(conn.execute(foreign).scalar_one())


def spend(conn: Connection, scope: Scope, dim: Dimension) -> list[dict[str, Any]]:
    """Spend rows: {day, source, medium, campaign, keyword, number_id, amount} for the
    period and the channel filters; imported costs first, then static numbers'. Summed
    over the period (day None) unless the dimension is time: a year of daily rows need
    not cross into Python to be added up there."""
    first, last = scope.period.first.isoformat(), scope.period.last.isoformat()
    columns = {name: co[col] for name, col in COST_COLUMNS.items()}
    cond = [matches(columns[name], value) for name, value in scope.filters.items()]
    by_day = dim.name in TIME
    days = [co.day] if by_day else []
    query = (
        select(
            *days,
            *(columns[name].label(name) for name in CHANNEL),
            func.sum(co.amount_cents).label("cents"),
        )
        .where(co.site_id == scope.site_id, co.day >= first, co.day <= last, *cond)
        .group_by(*days, *(columns[name] for name in CHANNEL))
    )
    rows = [
        {"day": None, **dict(r._mapping), "number_id": None, "amount": float(r.cents) / 100.0}
        for r in conn.execute(query)
    ]
    numbers = _number_spend(conn, scope, pool_too=dim.name == "number")
    return rows + (numbers if by_day else _summed(numbers))


def _summed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each number's spend over the period as one row."""
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        found = out.setdefault(row["number_id"], {**row, "day": None, "amount": 0.0})
        found["amount"] += row["amount"]
    return list(out.values())


def _number_spend(conn: Connection, scope: Scope, pool_too: bool) -> list[dict[str, Any]]:
    kinds = ("static", "pool") if pool_too else ("static",)
    query = select(
        n.id,
        n.kind,
        n.channel_source,
        n.channel_medium,
        n.channel_campaign,
        n.monthly_cost,
        n.created_at,
    ).where(n.site_id == scope.site_id, n.kind.in_(kinds), n.monthly_cost > 0)
    out = []
    zone = ZoneInfo(scope.period.zone)
    for num in conn.execute(query):
        channel = {
            "source": num.channel_source if num.kind == "static" else None,
            "medium": num.channel_medium if num.kind == "static" else None,
            "campaign": num.channel_campaign if num.kind == "static" else None,
            "keyword": None,
        }
        if not all(_channel_match(channel[f], v) for f, v in scope.filters.items()):
            continue
        created = datetime.fromtimestamp(float(num.created_at), zone).date()
        for day in scope.period.days:
            if day >= created:
                daily = float(num.monthly_cost) / _month_days(day)
                out.append(
                    {"day": day.isoformat(), **channel, "number_id": num.id, "amount": daily}
                )
    return out


def _channel_match(value: str | None, wanted: str) -> bool:
    if wanted == NOT_SET:
        return value in (None, "", NOT_SET)
    return value == wanted


def _month_days(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def distinct_visitors(conn: Connection, scope: Scope) -> float:
    """Visitors of the period (and filters), counted once."""
    return float(conn.execute(distinct_visitors_query(scope)).scalar_one())


def distinct_visitors_query(scope: Scope) -> Select[Any]:
    """The period's distinct visitors. SQLite: one count(DISTINCT), which its planner
    answers from `ix_sessions_channel` alone (a DISTINCT subquery made it read visitors
    in order from `ix_sessions_visitor` and look up every visit's row). PostgreSQL: a
    DISTINCT subquery, which it may hash (count(DISTINCT) always sorts)."""
    where = Where(
        lambda name: se[name], sessions, se.started_at, se.number_id, scope.period.dialect
    )
    conditions = (
        se.site_id == scope.site_id,
        se.started_at >= scope.period.since,
        se.started_at < scope.period.until,
        _person(),
        *_filtered(where, scope),
    )
    if scope.period.dialect == "sqlite":
        return select(func.count(se.visitor_id.distinct())).where(*conditions)
    inner = select(se.visitor_id).where(*conditions).distinct().subquery()
    return select(func.count()).select_from(inner)


def distinct_callers(conn: Connection, scope: Scope) -> float:
    """Callers of the period's leads, counted once. Every lead is credited in full under
    every model, so without filters the leads alone answer it."""
    query = select(func.count(ld.caller.distinct())).where(
        ld.site_id == scope.site_id,
        ld.kind == "call",
        ld.started_at >= scope.period.since,
        ld.started_at < scope.period.until,
    )
    return float(conn.execute(query).scalar_one())
