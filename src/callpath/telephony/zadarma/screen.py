"""Which stored events of one Zadarma call are folded (`telephony.screen("zadarma")`).

NOTIFY_START, NOTIFY_ANSWER and NOTIFY_END carry the same signed fields (`caller_id`,
`called_did` or `destination`, `call_start`), a call out's NOTIFY_OUT_START and
NOTIFY_OUT_END theirs (`internal`, `destination`, `call_start`); `pbx_call_id`,
`disposition` and `duration` are not signed. So an END is believed only as far as the
scheme allows (a call out's START and END being its OUT_START and OUT_END):

- nothing is folded without a START: an END (ANSWER, RECORD) for a call whose START we
  do not hold is kept for audit and makes no call (a START arriving later brings it in);
- an ANSWER or END counts only if its signed fields are the START's own and it is of the
  START's kind (a signature lifted from another call does not end this one, an OUT_END
  does not end a call in), and of the ENDs only the first stored counts, so a replay
  with another `disposition` or `duration` changes nothing;
- the call's line in Zadarma's statistics (`confirm`), when stored, replaces the END's
  unsigned `disposition` and `duration` (the END keeps its time and recording).

The first START (or OUT_START) stored is the call's; NOTIFY_RECORD signs `pbx_call_id`
itself.
"""

from __future__ import annotations

from typing import Any

from callpath.telephony.zadarma import adapter

Row = dict[str, Any]
# an event of a call → the start it belongs with, and the signed fields both must share
_SIGNED_WITH_START = {
    "NOTIFY_ANSWER": ("NOTIFY_START", ("caller_id", "call_start")),
    "NOTIFY_END": ("NOTIFY_START", ("caller_id", "called_did", "call_start")),
    "NOTIFY_OUT_END": ("NOTIFY_OUT_START", ("internal", "destination", "call_start")),
}


def screen(rows: list[Row]) -> list[Row]:
    """The rows to fold, oldest first; rows that are not Zadarma's (an operator's visit
    code) pass as they are."""
    ordered = sorted(rows, key=lambda r: r["id"])
    found = _first_start(ordered)
    if found is None:
        return [r for r in ordered if not _zadarma(r)]
    start_row, start = found
    admitted: list[Row] = []
    end: Row | None = None
    statistics: Row | None = None
    for row in ordered:
        if row["kind"] == adapter.STATISTICS:
            statistics = statistics or row
            continue
        fields = _fields(row)
        if fields is None:
            admitted.append(row)  # not a notification: its own parser decides
            continue
        name = fields.get("event", "")
        if name in adapter.ENDS:
            if end is None and _same_call(fields, start, name):
                end = row
            continue
        if name in adapter.STARTS and row is not start_row:
            continue
        if name in _SIGNED_WITH_START and not _same_call(fields, start, name):
            continue
        admitted.append(row)
    return admitted + _outcome(end, statistics)


def _first_start(ordered: list[Row]) -> tuple[Row, dict[str, str]] | None:
    for row in ordered:
        fields = _fields(row)
        if fields is not None and fields.get("event") in adapter.STARTS:
            return row, fields
    return None


def _same_call(fields: dict[str, str], start: dict[str, str], name: str) -> bool:
    kind, signed = _SIGNED_WITH_START[name]
    return start.get("event") == kind and all(fields.get(f, "") == start.get(f, "") for f in signed)


def _outcome(end: Row | None, statistics: Row | None) -> list[Row]:
    """The END with the statistics' outcome in place of its own, or the statistics alone
    (the END never came), or the END as sent (not confirmed yet, or not confirmable)."""
    line = adapter.statistics_line(_bytes(statistics)) if statistics else None
    if line is None or line.get("found") is False:
        return [end] if end else []
    if end is None:
        return [statistics] if statistics else []
    stored = adapter.stored_fields(_bytes(end))
    if stored is None:
        return [end]
    fields, at = stored
    confirmed = {**fields, "disposition": str(line.get("disposition", "")), "duration": ""}
    seconds = line.get("seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        confirmed["duration"] = str(seconds)
    return [{**end, "body": adapter.stored_body(confirmed, at).decode("utf-8")}]


def _fields(row: Row) -> dict[str, str] | None:
    if row["kind"] == adapter.STATISTICS:
        return None
    stored = adapter.stored_fields(_bytes(row))
    return stored[0] if stored else None


def _zadarma(row: Row) -> bool:
    return row["kind"] == adapter.STATISTICS or _fields(row) is not None


def _bytes(row: Row) -> bytes:
    body = row["body"]
    return body if isinstance(body, bytes) else str(body).encode("utf-8")
