"""A report's period in its site's timezone, and SQL for local time.

Times are stored as UTC seconds. Days, weeks and months are the site's local ones, so
the SQL adds the zone's UTC offset, which changes at daylight-saving transitions: the
offset is a CASE over the transitions inside the period (a few a year), which keeps
grouping by local day in the database (exact, and fast on both backends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func, literal
from sqlalchemy.sql.elements import ColumnElement

DAY = 86_400
WEEK = 7 * DAY
BUCKETS = ("day", "week", "month")
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Period:
    """[first, last] local days of `zone`: UTC seconds [since, until)."""

    zone: str
    first: date
    last: date
    dialect: str = "sqlite"
    since: float = field(init=False)
    until: float = field(init=False)

    def __post_init__(self) -> None:
        tz = ZoneInfo(self.zone)
        start = datetime.combine(self.first, datetime.min.time(), tz)
        end = datetime.combine(self.last + timedelta(days=1), datetime.min.time(), tz)
        object.__setattr__(self, "since", start.timestamp())
        object.__setattr__(self, "until", end.timestamp())

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def local(self, t: ColumnElement[float]) -> ColumnElement[float]:
        """`t` (UTC seconds) as local seconds: what a local clock would read, in seconds
        since 1970-01-01 00:00 local."""
        segments = offsets(self.zone, self.since, self.until)
        if len(segments) == 1:
            return t + segments[0][1]
        whens = [(t < start, off_before) for (start, _), (_, off_before) in _pairs(segments)]
        return t + case(*whens, else_=segments[-1][1])

    def bucket(self, t: ColumnElement[float], unit: str) -> ColumnElement[int]:
        """The local day, week or month `t` falls in, as a whole number that `label`
        turns into the bucket's first day."""
        seconds = self.local(t)
        if unit == "day":
            return self._floor(seconds / DAY)
        if unit == "week":  # weeks start on Monday; 1970-01-01 was a Thursday
            return self._floor((seconds + 3 * DAY) / WEEK)
        starts = month_starts(self.first, self.last)
        whens = [(seconds < _days(s) * DAY, i) for i, s in enumerate(starts[1:])]
        if not whens:
            return literal(0, Integer)
        return case(*whens, else_=len(starts) - 1)

    def label(self, index: int, unit: str) -> date:
        if unit == "day":
            return EPOCH + timedelta(days=index)
        if unit == "week":
            return EPOCH + timedelta(days=index * 7 - 3)
        return month_starts(self.first, self.last)[index]

    def labels(self, unit: str) -> list[date]:
        """Every bucket of the period, in order (empty ones too)."""
        if unit == "month":
            return month_starts(self.first, self.last)
        if unit == "week":
            monday = self.first - timedelta(days=self.first.weekday())
            count = (self.last - monday).days // 7 + 1
            return [monday + timedelta(days=7 * i) for i in range(count)]
        return self.days

    def _floor(self, x: ColumnElement[float]) -> ColumnElement[int]:
        if self.dialect == "postgresql":
            return cast(func.floor(x), BigInteger)
        return cast(x, Integer)  # SQLite truncates: the same for times after 1970


def offsets(zone: str, since: float, until: float) -> list[tuple[float, int]]:
    """[(from when, UTC offset in seconds)] over [since, until): the first starts at
    `since`; one more at each transition."""
    tz = ZoneInfo(zone)

    def off(t: float) -> int:
        delta = datetime.fromtimestamp(t, tz).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    segments = [(since, off(since))]
    t = since
    while t < until:
        step = min(t + DAY, until)
        if off(step) != segments[-1][1]:
            low, high = t, step  # the change lies in (low, high]: find its second
            while high - low > 1:
                mid = (low + high) // 2
                low, high = (mid, high) if off(mid) == segments[-1][1] else (low, mid)
            segments.append((high, off(high)))
        t = step
    return segments


def _pairs(segments: list[tuple[float, int]]) -> list[tuple[tuple[float, int], tuple[float, int]]]:
    """(next segment, this one) for each segment but the last."""
    return [(segments[i + 1], segments[i]) for i in range(len(segments) - 1)]


def month_starts(first: date, last: date) -> list[date]:
    out = [first.replace(day=1)]
    while True:
        d = out[-1]
        following = date(d.year + d.month // 12, d.month % 12 + 1, 1)
        if following > last:
            return out
        out.append(following)


def _days(d: date) -> int:
    return (d - EPOCH).days
