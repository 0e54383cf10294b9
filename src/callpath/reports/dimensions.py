"""What an analytics report groups and filters by, wherever each query finds it.

One dimension is read from different places by each measure: a visit's channel is the
session's own; a lead's is its credited touch's (`lead_credits`, per attribution model);
a deal's is its lead's touch, or the visit it was linked to. `Where` says where one
query finds each attribute; a `Dimension` turns that into the GROUP BY columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from sqlalchemy import String, case, cast, func, null
from sqlalchemy.sql.elements import ColumnElement

from callpath.domain.channel import NOT_SET
from callpath.reports.period import Period

Expr = ColumnElement[Any]
CHANNEL: Final = ("source", "medium", "campaign", "keyword")
SESSION: Final = ("landing", "device", "browser", "os", "country", "region", "city")
FILTERS: Final = (*CHANNEL, *SESSION)
TIME: Final = ("day", "week", "month")
# A channel attribute's column in the costs table (a keyword is a cost row's `term`).
COST_COLUMNS: Final = {
    "source": "source",
    "medium": "medium",
    "campaign": "campaign",
    "keyword": "term",
}


@dataclass(frozen=True, slots=True)
class Where:
    """Where one query finds each attribute: `channel(name)` for the channel's four,
    `session` a sessions-like table (or None: no visit), `time` the moment that places
    a row in the period, `number` the tracking number (or None)."""

    channel: Callable[[str], Expr]
    session: Any
    time: ColumnElement[float]
    number: Expr | None
    dialect: str

    def attribute(self, name: str) -> Expr:
        if name in CHANNEL:
            return self.channel(name)
        if self.session is None:
            return null()
        if name == "landing":
            return landing_path(self.session.c.landing_url, self.dialect)
        return self.session.c[name]  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class Dimension:
    name: str
    labels: tuple[str, ...]  # the row's key columns, in order
    uses_session: bool  # needs the visit behind a lead or deal
    costed: bool  # spend is known per key (ad platforms report it by channel and day)

    def exprs(self, where: Where, period: Period) -> list[Expr]:
        if self.name in TIME:
            return [period.bucket(where.time, self.name)]
        if self.name == "number":
            return [where.number if where.number is not None else null()]
        return [where.attribute(label) for label in self.labels]

    def key(self, values: tuple[Any, ...], period: Period) -> tuple[str, ...]:
        """A row's key as shown: None and "" are "(not set)", buckets are ISO dates."""
        if self.name in TIME:
            return (period.label(int(values[0]), self.name).isoformat(),)
        return tuple(_shown(v) for v in values)

    def cost_key(self, row: dict[str, Any], period: Period) -> tuple[str, ...]:
        """The key of a spend row (its channel, or its day's bucket)."""
        if self.name in TIME:
            return (_first_of(date.fromisoformat(row["day"]), self.name).isoformat(),)
        return tuple(_shown(row[label]) for label in self.labels)


@dataclass(frozen=True, slots=True)
class Over(Dimension):
    """Time buckets of `unit` crossed with a channel's attributes (`labels` after the
    first, "period"): calls by channel over time, for a chart."""

    unit: str = "day"

    def exprs(self, where: Where, period: Period) -> list[Expr]:
        channel = [where.attribute(label) for label in self.labels[1:]]
        return [period.bucket(where.time, self.unit), *channel]

    def key(self, values: tuple[Any, ...], period: Period) -> tuple[str, ...]:
        day = period.label(int(values[0]), self.unit).isoformat()
        return (day, *(_shown(v) for v in values[1:]))


def _shown(value: Any) -> str:
    if value is None or value == "":
        return NOT_SET
    return str(value)


def _first_of(day: date, unit: str) -> date:
    if unit == "week":
        return date.fromordinal(day.toordinal() - day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


GROUPS: Final = {
    "source": Dimension("source", ("source", "medium"), False, True),
    "campaign": Dimension("campaign", ("source", "medium", "campaign"), False, True),
    "keyword": Dimension("keyword", CHANNEL, False, True),
    "landing": Dimension("landing", ("landing",), True, False),
    "device": Dimension("device", ("device",), True, False),
    "browser": Dimension("browser", ("browser",), True, False),
    "os": Dimension("os", ("os",), True, False),
    "country": Dimension("country", ("country",), True, False),
    "region": Dimension("region", ("country", "region"), True, False),
    "city": Dimension("city", ("country", "region", "city"), True, False),
    "day": Dimension("day", ("period",), False, True),
    "week": Dimension("week", ("period",), False, True),
    "month": Dimension("month", ("period",), False, True),
    "number": Dimension("number", ("number_id",), False, True),
}
TOTAL: Final = Dimension("total", (), False, True)


def by_channel(unit: str) -> Over:
    """Buckets of `unit` (day, week, month) crossed with source and medium."""
    return Over(f"{unit}_by_channel", ("period", "source", "medium"), False, False, unit)


def landing_path(url: ColumnElement[str], dialect: str) -> Expr:
    """The landing URL without its query string (UTM tags would split every page)."""
    if dialect == "postgresql":
        return func.split_part(url, "?", 1)
    at = func.instr(url, "?")
    return case((at > 0, func.substr(url, 1, at - 1)), else_=url)


def matches(expr: Expr, value: str) -> ColumnElement[bool]:
    """A filter: "(not set)" matches a missing value."""
    if value == NOT_SET:
        return expr.is_(None) | (cast(expr, String).in_(["", NOT_SET]))
    return expr == value
