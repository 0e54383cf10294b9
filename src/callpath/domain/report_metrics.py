"""Report metrics (pure): what a row of an analytics report holds, and the figures
derived from its counts.

A report row counts visits, calls, leads and deals credited to one key (a channel, a
landing page, a day...). Under a multi-touch attribution model a lead's credit is split
over the visits of its journey, so counts can be fractional; they add up: the totals are
the sums of the rows. Two figures are distinct counts and do not add up (a visitor who
came by two channels is one visitor in each row and one in the total): `visitors` and
`unique_callers`.

Derived figures (None when their divisor is zero or the cost is unknown):

- `conversion`: calls per 100 visits (visit -> call, %);
- `cpl`: cost per lead; `cpa`: cost per won deal;
- `roi`: (revenue - cost) / cost, %; `romi`: the same on gross profit (revenue x margin),
  %; with the default margin of 100% they are equal;
- `drr`: cost / revenue, % (ДРР, the share of revenue spent on advertising);
- `average_check`: revenue per won deal.

`cost` is None where spend cannot be split by the row's key (a landing page, a device,
a city: ad platforms do not report spend by them) or a filter the spend does not carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

Measures = dict[str, float | None]

ADDITIVE: Final = (
    "visits",
    "calls",
    "answered",
    "missed",
    "first_time",
    "target",
    "leads",
    "deals",
    "won",
    "revenue",
)
DISTINCT: Final = ("visitors", "unique_callers")
DERIVED: Final = ("conversion", "cpl", "cpa", "roi", "romi", "drr", "average_check")
METRICS: Final = (
    "visits",
    "visitors",
    "calls",
    "answered",
    "missed",
    "unique_callers",
    "first_time",
    "target",
    "leads",
    "deals",
    "won",
    "revenue",
    "cost",
    *DERIVED,
)
MONEY: Final = ("revenue", "cost", "cpl", "cpa", "average_check")


def empty(with_cost: bool) -> Measures:
    """A row with nothing counted yet (cost 0, or None where it is unknown)."""
    row: Measures = {name: 0.0 for name in (*ADDITIVE, *DISTINCT)}
    row["cost"] = 0.0 if with_cost else None
    return row


def add(into: Measures, part: Mapping[str, float | None]) -> None:
    """Add `part`'s counts to `into` (a cost given to a row without one is ignored)."""
    for name, value in part.items():
        if value is None:
            continue
        current = into.get(name)
        if name == "cost" and current is None:
            continue
        into[name] = (current or 0.0) + value


def totals(rows: Iterable[Measures], distinct: Mapping[str, float], with_cost: bool) -> Measures:
    """The sum of the rows' counts, with the distinct counts taken over the whole report."""
    total = empty(with_cost)
    for row in rows:
        add(total, {k: row.get(k) for k in (*ADDITIVE, "cost")})
    total.update({k: float(distinct.get(k, 0.0)) for k in DISTINCT})
    return total


def derive(row: Measures, margin: float = 1.0) -> Measures:
    """`row` with its derived figures, every figure rounded for output."""
    visits, calls, leads = _n(row, "visits"), _n(row, "calls"), _n(row, "leads")
    won, revenue, cost = _n(row, "won"), _n(row, "revenue"), row.get("cost")
    out: Measures = {name: round(_n(row, name), 2) for name in (*ADDITIVE, *DISTINCT)}
    out["cost"] = None if cost is None else round(cost, 2)
    out["conversion"] = _ratio(calls * 100, visits)
    out["cpl"] = _ratio(cost, leads)
    out["cpa"] = _ratio(cost, won)
    out["roi"] = _ratio(None if cost is None else (revenue - cost) * 100, cost)
    out["romi"] = _ratio(None if cost is None else (revenue * margin - cost) * 100, cost)
    out["drr"] = _ratio(None if cost is None else cost * 100, revenue)
    out["average_check"] = _ratio(revenue, won)
    return out


def _n(row: Mapping[str, float | None], name: str) -> float:
    return float(row.get(name) or 0.0)


def _ratio(top: float | None, bottom: float | None) -> float | None:
    if top is None or not bottom:
        return None
    return round(top / bottom, 2)
