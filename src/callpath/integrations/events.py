"""An outbox event's payload read back for the platforms: the call as the export files
take it (`reports.exports.ExportCall`), and whether it is one to send at all."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callpath.reports.exports import ExportCall, Won


def moment(text: object) -> float | None:
    """An ISO-8601 time of a payload back as epoch seconds (None if absent or bad)."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def not_sendable(payload: Mapping[str, Any]) -> str | None:
    """Why a lead event's call is not one to hand over (yet): None when it is. Only ended
    inbound calls that are not spam, as the export files."""
    call, lead = payload.get("call") or {}, payload.get("lead") or {}
    if call.get("direction", "inbound") != "inbound":
        return "a call out is not a lead"
    if call.get("state") != "ended":
        return "the call has not ended yet (a later event sends it)"
    if lead.get("spam"):
        return "spam is never sent"
    return None


def export_call(payload: Mapping[str, Any], won: Won | None = None) -> ExportCall:
    call, lead = payload.get("call") or {}, payload.get("lead") or {}
    match = payload.get("attribution") or {}
    session = match.get("session") or {}
    return ExportCall(
        id=str(call.get("id")),
        started_at=moment(call.get("started_at")) or 0.0,
        caller=call.get("caller"),
        static=match.get("method") == "static",
        answered=call.get("answered_at") is not None,
        talk=float(call.get("talk") or 0.0),
        wait=float(call.get("wait") or 0.0),
        landing_url=session.get("landing_url"),
        click_ids=dict(session.get("click_ids") or {}),
        client_ids=dict(session.get("client_ids") or {}),
        first_time=lead.get("first_time"),
        target=lead.get("target"),
        won=won,
    )
