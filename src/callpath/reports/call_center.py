"""The call-center report: how the site's calls were answered in a period.

- answer rate (answered of calls, spam left out), the average wait to answer and the
  average wait before a caller hung up unanswered;
- calls, missed and lost by local weekday x hour (a heat map: 7 rows of 24);
- missed callers, newest first, with what became of them: lost (did not get through
  within the site's callback window) or got through, and after how long; and whether
  someone marked them handled (`services/callbacks.py`), which leaves a lost caller
  counted lost but off the list to call back (`to_call_back`).

The calls of a period are a few thousand, so they are read once and counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from callpath.reports.period import Period
from callpath.storage.tables import callbacks_handled, calls, leads, users

LOST_LIMIT = 200
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
k, ld, h, u = calls.c, leads.c, callbacks_handled.c, users.c


@dataclass(frozen=True, slots=True)
class _Handled:
    at: float
    by: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class _Call:
    call_id: str
    at: float
    answered: bool
    missed: bool
    lost: bool
    abandoned: bool
    spam: bool
    wait: float | None
    recovered_after: float | None
    called_back_after: float | None
    caller: str | None
    number: str | None
    channel: str | None
    handled: _Handled | None


def report(conn: Connection, site_id: int, period: Period) -> dict[str, Any]:
    rows = _calls(conn, site_id, period)
    counted = [c for c in rows if not c.spam]
    answered = [c for c in counted if c.answered]
    missed = [c for c in counted if c.missed]
    return {
        "summary": {
            "calls": len(counted),
            "answered": len(answered),
            "missed": len(missed),
            "abandoned": sum(1 for c in missed if c.abandoned),
            "lost": sum(1 for c in missed if c.lost),
            "to_call_back": sum(1 for c in missed if c.lost and c.handled is None),
            "handled": sum(1 for c in missed if c.handled is not None),
            "got_through": sum(1 for c in missed if c.recovered_after is not None),
            "called_back": sum(1 for c in missed if c.called_back_after is not None),
            "spam": len(rows) - len(counted),
            "answer_rate": _pct(len(answered), len(counted)),
            "average_wait_to_answer": _mean([c.wait for c in answered]),
            "average_wait_to_hang_up": _mean([c.wait for c in missed]),
            "average_time_to_get_through": _mean([c.recovered_after for c in missed]),
            "average_time_to_call_back": _mean([c.called_back_after for c in missed]),
        },
        "heatmap": _heatmap(counted, period.zone),
        "missed_callers": [_missed(c, period.zone) for c in missed[::-1][:LOST_LIMIT]],
    }


def _calls(conn: Connection, site_id: int, period: Period) -> list[_Call]:
    answered = (k.status == "answered") | k.answered_at.is_not(None)
    query = (
        select(
            ld.call_id,
            ld.started_at,
            answered.label("answered"),
            ld.missed,
            ld.lost,
            ld.abandoned,
            ld.spam,
            k.wait,
            ld.recovered_after,
            ld.called_back_after,
            ld.caller,
            k.tracking_number,
            k.source,
            k.medium,
            h.handled_at,
            h.note,
            u.email.label("handled_by"),
        )
        .select_from(
            leads.join(calls, k.id == ld.call_id)
            .outerjoin(callbacks_handled, h.call_id == ld.call_id)
            .outerjoin(users, u.id == h.handled_by)
        )
        .where(
            ld.site_id == site_id,
            ld.kind == "call",
            ld.started_at >= period.since,
            ld.started_at < period.until,
        )
        .order_by(ld.started_at, ld.id)
    )
    return [
        _Call(
            str(r.call_id),
            float(r.started_at),
            bool(r.answered),
            bool(r.missed),
            bool(r.lost),
            bool(r.abandoned),
            bool(r.spam),
            None if r.wait is None else float(r.wait),
            None if r.recovered_after is None else float(r.recovered_after),
            None if r.called_back_after is None else float(r.called_back_after),
            r.caller,
            r.tracking_number,
            "/".join(x for x in (r.source, r.medium) if x) or None,
            None if r.handled_at is None else _Handled(float(r.handled_at), r.handled_by, r.note),
        )
        for r in conn.execute(query)
    ]


def _heatmap(rows: list[_Call], zone: str) -> dict[str, Any]:
    tz = ZoneInfo(zone)
    grid = {name: [[0] * 24 for _ in range(7)] for name in ("calls", "missed", "lost")}
    for c in rows:
        local = datetime.fromtimestamp(c.at, tz)
        day, hour = local.weekday(), local.hour
        grid["calls"][day][hour] += 1
        grid["missed"][day][hour] += int(c.missed)
        grid["lost"][day][hour] += int(c.lost)
    return {"weekdays": list(WEEKDAYS), "hours": list(range(24)), **grid}


def _missed(c: _Call, zone: str) -> dict[str, Any]:
    tz = ZoneInfo(zone)
    handled = c.handled
    return {
        "call_id": c.call_id,
        "started": datetime.fromtimestamp(c.at, tz).isoformat(timespec="seconds"),
        "caller": c.caller,
        "number": c.number,
        "channel": c.channel,
        "waited": None if c.wait is None else round(c.wait, 1),
        "status": _status(c),
        "got_through_after": None if c.recovered_after is None else round(c.recovered_after),
        "called_back_after": None if c.called_back_after is None else round(c.called_back_after),
        "handled_at": (
            None if handled is None else datetime.fromtimestamp(handled.at, tz).isoformat()[:19]
        ),
        "handled_by": None if handled is None else handled.by,
        "handled_note": None if handled is None else handled.note,
    }


def _status(c: _Call) -> str:
    if c.lost:
        return "lost"
    if c.called_back_after is not None and (
        c.recovered_after is None or c.called_back_after <= c.recovered_after
    ):
        return "called back"
    return "got through" if c.recovered_after is not None else ""


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 1) if known else None
