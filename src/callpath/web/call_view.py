"""One call as the journal, the API and the CSV export show it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpath.domain import phone
from callpath.domain.cells import safe_cell as safe_cell
from callpath.services.auth import Principal
from callpath.web import recording_view

CSV_COLUMNS = (
    "id",
    "started",
    "timezone",
    "caller",
    "repeat",
    "tracking_number",
    "number_label",
    "source",
    "medium",
    "campaign",
    "keyword",
    "landing_url",
    "device",
    "country",
    "region",
    "city",
    "status",
    "wait",
    "talk",
    "recording_url",
    "match_method",
    "confidence",
)


def sees_callers(who: Principal) -> bool:
    """Operators see callers masked but for the last 4 digits."""
    return who.role != "operator"


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def local(moment: float, zone: str | None) -> str:
    return datetime.fromtimestamp(moment, ZoneInfo(zone or "UTC")).strftime("%Y-%m-%d %H:%M:%S")


def api_call(
    row: dict[str, Any], who: Principal, recording: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`recording` is the call's row of the recordings table, if any."""
    caller = row["caller"] if sees_callers(who) else phone.mask(row["caller"])
    return {
        "id": row["id"],
        "site_id": row["site_id"],
        "started_at": iso(row["started_at"]),
        "answered_at": iso(row["answered_at"]),
        "ended_at": iso(row["ended_at"]),
        "state": row["state"],
        "status": row["status"],
        "caller": caller,
        "repeat": row["repeat"],
        "first_call_id": row["first_call_id"],
        "tracking_number": row["tracking_number"],
        "number_label": row["number_label"],
        "forward_to": row["forward_to"],
        "wait": row["wait"],
        "talk": row["talk"],
        "duration": row["duration"],
        "direction": row.get("direction") or "inbound",
        "recording_url": row["recording_url"],
        "recording": recording_view.api_field(row["recording_url"], recording),
        "channel": {k: row[k] for k in ("source", "medium", "campaign", "keyword")},
        "landing_url": row["landing_url"],
        "device": row["device"],
        "browser": row["browser"],
        "os": row["os"],
        "country": row["country"],
        "region": row["region"],
        "city": row["city"],
        "session_id": row["session_id"],
        "visitor_id": row["visitor_id"],
        "match": {
            "method": row["match_method"],
            "confidence": row["confidence"],
            "alternatives": row["alternatives"],
        },
    }


def page_call(
    row: dict[str, Any], who: Principal, recording: dict[str, Any] | None = None
) -> dict[str, Any]:
    view = api_call(row, who, recording)
    view["recording_page"] = recording_view.page_fields(row["recording_url"], recording)
    view["started"] = local(row["started_at"], row["timezone"])
    view["wait"], view["talk"] = _seconds(row["wait"]), _seconds(row["talk"])
    view["zone"] = row["timezone"] or "UTC"
    view["channel_text"] = channel_text(row)
    return view


def channel_text(row: dict[str, Any]) -> str:
    if not row["source"]:
        return "other"
    return f"{row['source']} / {row['medium'] or '(none)'}"


def csv_row(row: dict[str, Any], who: Principal) -> list[str]:
    view = page_call(row, who)
    flat = {
        **view,
        **view["channel"],
        "started": view["started"],  # the site's local time, which a spreadsheet reads
        "timezone": view["zone"],
        "repeat": "repeat" if view["repeat"] else "first-time",
        "match_method": view["match"]["method"],
        "confidence": view["match"]["confidence"],
    }
    return [safe_cell(flat.get(col)) for col in CSV_COLUMNS]


def _seconds(value: float | None) -> float | int | None:
    """Whole seconds as a whole number (60, not 60.0); fractions to a tenth."""
    if value is None:
        return None
    rounded = round(float(value), 1)
    return int(rounded) if rounded.is_integer() else rounded
