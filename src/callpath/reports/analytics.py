"""Analytics reports: visits, calls, leads, deals and spend of one site and period,
grouped by a dimension (`reports/dimensions.py`), with the figures a marketer reads
(CPL, ROI, ДРР ...: `domain/report_metrics.py`).

A row exists for every key that had visits, leads, deals or spend: a channel with spend
and nothing else is a row too (wasted spend is what a marketer looks for). Totals are the
sums of the rows, over all rows even when only the first `limit` are returned; visitors
and unique callers, distinct counts, are counted over the whole period instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from callpath.domain import report_metrics as metrics
from callpath.domain.attribution import MODELS
from callpath.domain.channel import NOT_SET
from callpath.domain.report_metrics import Measures
from callpath.reports import measures
from callpath.reports.dimensions import CHANNEL, TIME, TOTAL, Dimension, by_channel
from callpath.reports.measures import Scope
from callpath.storage.db import roomy
from callpath.storage.tables import tracking_numbers

Key = tuple[str, ...]
MODEL_METRICS = ("calls", "target", "leads", "won", "revenue", "cpl", "roi")


@dataclass(frozen=True, slots=True)
class Shape:
    """How the rows are put in order and cut."""

    sort: str = "calls"
    descending: bool = True
    limit: int = 1000
    margin: float = 1.0  # gross margin for ROMI


@dataclass(slots=True)
class Report:
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    row_count: int = 0


def breakdown(conn: Connection, scope: Scope, dim: Dimension, shape: Shape) -> Report:
    """The dimension's rows under the scope's model (the numbers report counts each call
    whole, to the number that rang)."""
    roomy(conn)
    credited = dim.name != "number"
    with_cost = dim.costed and all(name in CHANNEL for name in scope.filters)
    rows, notes = _gather(conn, scope, dim, credited, with_cost)
    if dim.name in TIME:
        for label in scope.period.labels(dim.name):
            rows.setdefault((label.isoformat(),), metrics.empty(with_cost))
    distinct = _distinct_totals(conn, scope, credited)
    total = metrics.derive(metrics.totals(rows.values(), distinct, with_cost), shape.margin)
    shown = [_row(dim, key, m, shape) for key, m in rows.items()]
    if dim.name == "number":
        shown = _with_numbers(conn, scope, shown)
    ordered = _ordered(shown, dim, shape)
    return Report(_columns(dim), ordered[: shape.limit], total, notes, row_count=len(ordered))


def models_side_by_side(conn: Connection, scope: Scope, dim: Dimension, shape: Shape) -> Report:
    """Each attribution model's calls, target calls, leads, won deals, revenue, CPL and
    ROI per key of `dim`, beside the visits and spend every model shares."""
    roomy(conn)
    with_cost = all(name in CHANNEL for name in scope.filters)
    base: dict[Key, Measures] = {}
    _merge(base, dim, scope, measures.visits(conn, scope, dim))
    if with_cost:
        _spend(base, conn, scope, dim)
    per_model: dict[str, dict[Key, Measures]] = {}
    for model in MODELS:
        one = Scope(scope.site_id, scope.currency, scope.period, model, scope.filters)
        rows: dict[Key, Measures] = {}
        _merge(rows, dim, one, measures.leads_by(conn, one, dim))
        _merge(rows, dim, one, measures.deals_by(conn, one, dim)[0])
        per_model[model] = rows
    keys = set(base) | {key for rows in per_model.values() for key in rows}
    shown = []
    for key in keys:
        common = base.get(key) or metrics.empty(with_cost)
        row: dict[str, Any] = dict(zip(dim.labels, key, strict=True))
        row["visits"] = round(common["visits"] or 0.0, 2)
        row["cost"] = None if common["cost"] is None else round(common["cost"], 2)
        for model in MODELS:
            counted = per_model[model].get(key) or metrics.empty(with_cost)
            figures = metrics.derive(
                {**counted, "visits": common["visits"], "cost": common["cost"]}, shape.margin
            )
            row.update({f"{name}_{model}": figures[name] for name in MODEL_METRICS})
        shown.append(row)
    sort = shape.sort if shape.sort in _model_columns() else f"calls_{scope.model}"
    ordered = _ordered(shown, dim, Shape(sort, shape.descending, shape.limit, shape.margin))
    columns = [*dim.labels, "visits", "cost", *_model_columns()]
    return Report(columns, ordered[: shape.limit], None, [], row_count=len(ordered))


def calls_by_channel(conn: Connection, scope: Scope, unit: str) -> dict[str, dict[str, float]]:
    """Credited calls per local bucket of `unit` and channel ("source/medium"), under the
    scope's model: {bucket's first day: {channel: calls}}."""
    dim = by_channel(unit)
    out: dict[str, dict[str, float]] = {}
    for values, counts in measures.leads_by(conn, scope, dim).items():
        day, source, medium = dim.key(values, scope.period)
        out.setdefault(day, {})[f"{source}/{medium}"] = round(counts["calls"], 2)
    return out


def top_by_calls(conn: Connection, scope: Scope, dim: Dimension, n: int) -> list[dict[str, Any]]:
    """The `n` keys of `dim` with the most target calls (then calls) under the model, from
    the credited leads alone: cheap enough for an overview, with no visit or spend. Keys
    whose last part is not set (calls with no campaign, say) are no campaign to list."""
    keyed = (
        (dim.key(values, scope.period), c)
        for values, c in measures.leads_by(conn, scope, dim).items()
    )
    ranked = sorted((key, counts) for key, counts in keyed if key[-1] != NOT_SET)
    ranked.sort(key=lambda item: (-item[1]["target"], -item[1]["calls"]))  # stable: ties by key
    return [
        {
            **dict(zip(dim.labels, key, strict=True)),
            **{name: round(counts[name], 2) for name in ("calls", "target")},
        }
        for key, counts in ranked[:n]
    ]


def _model_columns() -> list[str]:
    return [f"{name}_{model}" for model in MODELS for name in MODEL_METRICS]


def _gather(
    conn: Connection, scope: Scope, dim: Dimension, credited: bool, with_cost: bool
) -> tuple[dict[Key, Measures], list[str]]:
    rows: dict[Key, Measures] = {}
    notes: list[str] = []
    for grouped in (
        measures.visits(conn, scope, dim),
        measures.leads_by(conn, scope, dim, credited),
    ):
        _merge(rows, dim, scope, grouped, with_cost)
    deals, foreign = measures.deals_by(conn, scope, dim, credited)
    _merge(rows, dim, scope, deals, with_cost)
    if foreign:
        notes.append(
            f"{foreign} deal(s) in another currency than the site's ({scope.currency})"
            " are left out of deals and revenue"
        )
    if with_cost:
        _spend(rows, conn, scope, dim)
    elif dim.costed:
        notes.append("spend is not known by visit attributes: cost, CPL and ROI are empty")
    return rows, notes


def _merge(
    rows: dict[Key, Measures],
    dim: Dimension,
    scope: Scope,
    grouped: measures.Grouped,
    with_cost: bool = True,
) -> None:
    for values, counts in grouped.items():
        key = dim.key(values, scope.period)
        row = rows.setdefault(key, metrics.empty(with_cost))
        metrics.add(row, {**counts, "unique_callers": None, "visitors": None})
        for name in ("visitors", "unique_callers"):  # distinct: never summed over keys
            if name in counts:
                row[name] = max(row[name] or 0.0, counts[name])


def _spend(rows: dict[Key, Measures], conn: Connection, scope: Scope, dim: Dimension) -> None:
    for item in measures.spend(conn, scope, dim):
        if dim.name == "number":
            if item["number_id"] is None:
                continue  # imported spend belongs to no number
            key: Key = (str(item["number_id"]),)
        else:
            key = dim.cost_key(item, scope.period)
        row = rows.setdefault(key, metrics.empty(True))
        row["cost"] = (row["cost"] or 0.0) + item["amount"]


def _distinct_totals(conn: Connection, scope: Scope, credited: bool) -> dict[str, float]:
    visitors = measures.distinct_visitors(conn, scope)
    if scope.filters:  # a filter on the credited touch: count among the credited leads
        called = measures.leads_by(conn, scope, TOTAL, credited).get((), {})
        callers = called.get("unique_callers", 0.0)
    else:
        callers = measures.distinct_callers(conn, scope)
    return {"visitors": visitors, "unique_callers": callers}


def _row(dim: Dimension, key: Key, m: Measures, shape: Shape) -> dict[str, Any]:
    return {**dict(zip(dim.labels, key, strict=True)), **metrics.derive(m, shape.margin)}


def _columns(dim: Dimension) -> list[str]:
    extra = ["number", "label", "kind", "channel"] if dim.name == "number" else []
    return [*dim.labels, *extra, *metrics.METRICS]


def _ordered(rows: list[dict[str, Any]], dim: Dimension, shape: Shape) -> list[dict[str, Any]]:
    if dim.name in TIME:
        return sorted(rows, key=lambda r: str(r["period"]))
    labels = list(dim.labels)

    def by_labels(r: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(r.get(label)) for label in labels)

    rows = sorted(rows, key=by_labels)  # ties: in key order, the same every time
    present = [r for r in rows if r.get(shape.sort) is not None]
    missing = [r for r in rows if r.get(shape.sort) is None]
    present.sort(key=lambda r: float(r[shape.sort]), reverse=shape.descending)
    return present + missing


def _with_numbers(
    conn: Connection, scope: Scope, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The numbers report's rows named: every number of the site (silent ones too)."""
    n = tracking_numbers.c
    query = select(
        n.id, n.e164, n.label, n.kind, n.channel_source, n.channel_medium, n.active
    ).where(n.site_id == scope.site_id)
    numbers = {str(r.id): r for r in conn.execute(query)}
    by_id = {str(r["number_id"]): r for r in rows}
    out = []
    for number_id, num in numbers.items():
        row = by_id.pop(number_id, None)
        if row is None:
            if not num.active:
                continue  # a retired number without a call in the period
            row = {"number_id": number_id, **metrics.derive(metrics.empty(True))}
        channel = "/".join(x for x in (num.channel_source, num.channel_medium) if x) or None
        out.append(
            {**row, "number": num.e164, "label": num.label, "kind": num.kind, "channel": channel}
        )
    for row in by_id.values():  # calls on no number of the site (number unknown)
        out.append({**row, "number": None, "label": None, "kind": None, "channel": None})
    return out
