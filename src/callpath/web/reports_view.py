"""What the reports pages show of a report: the key figures and their change against the
previous period, the table's columns, and where a row drills down to."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from callpath.web.lead_view import MODEL_NAMES as MODEL_NAMES

KPIS = (
    ("calls", "Calls"),
    ("target", "Target calls"),
    ("missed", "Missed"),
    ("leads", "Leads"),
    ("revenue", "Revenue"),
    ("cost", "Cost"),
    ("cpl", "CPL"),
    ("roi", "ROI, %"),
)
TABLE_COLUMNS = (  # (metric, header, what it is)
    ("visits", "Visits", "sessions started, bots left out"),
    ("calls", "Calls", "credited by the model"),
    ("target", "Target", "target calls by the site's lead rules"),
    ("conversion", "Conv. %", "calls per 100 visits"),
    ("won", "Won", "won deals"),
    ("revenue", "Revenue", "won deals' amount"),
    ("cost", "Cost", "spend"),
    ("cpl", "CPL", "cost per lead"),
    ("roi", "ROI %", "(revenue - cost) / cost"),
    ("drr", "ДРР %", "cost / revenue"),
)
LEVELS = {"source": "campaign", "campaign": "keyword"}
CHART_CHANNELS = 5  # the most calling channels drawn apart; the others as one "other"


def change(now: dict[str, Any], before: dict[str, Any], name: str) -> float | None:
    """The change of a total against the previous period, in % (None: nothing to compare)."""
    a, b = now["totals"].get(name), before["totals"].get(name)
    if a is None or b in (None, 0):
        return None
    return round(float(a - b) / abs(float(b)) * 100, 1)


def next_level(params: dict[str, str], row: dict[str, Any]) -> str | None:
    """The link one level down from a channels row (campaigns of a channel, keywords of a
    campaign); None at the bottom."""
    group = params.get("group", "source")
    deeper = LEVELS.get(group)
    if deeper is None:
        return None
    keys = ("source", "medium") if group == "source" else ("source", "medium", "campaign")
    drill = {**params, **{k: str(row[k]) for k in keys}, "group": deeper}
    drill.pop("sort", None)
    return "/app/reports?" + urlencode(drill)


def channel_series(
    days: list[str], by_day: dict[str, dict[str, float]], top: int = CHART_CHANNELS
) -> list[tuple[str, list[float]]]:
    """The calls of each day split into the `top` channels with the most calls in the
    whole period, then "other" (when any), for a stacked chart."""
    totals: dict[str, float] = {}
    for counts in by_day.values():
        for channel, n in counts.items():
            totals[channel] = totals.get(channel, 0.0) + n
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    shown, rest = ranked[:top], set(ranked[top:])
    series = [(c, [by_day.get(d, {}).get(c, 0.0) for d in days]) for c in shown]
    if rest:
        other = [sum(n for c, n in by_day.get(d, {}).items() if c in rest) for d in days]
        series.append(("other", other))
    return series
