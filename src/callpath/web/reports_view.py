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
