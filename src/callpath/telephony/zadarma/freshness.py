"""How recent a notification's `call_start` must be for it to be taken.

Zadarma signs only `caller_id + called_did + call_start` of NOTIFY_START and NOTIFY_END,
and `internal + destination + call_start` of a call out's NOTIFY_OUT_START and
NOTIFY_OUT_END (`pbx_call_id`, `disposition` and `duration` are not signed), so one
captured notification can be sent again at will. Its `call_start` is the one signed field that
ages: a notification whose call started long ago is a replay, not a call.

`call_start` is the account's wall-clock time ("2026-03-01 12:00:00") without an offset,
and the notification does not say the account's zone. Read as if it were UTC, the start
of a call happening now lies between now - 12 h and now + 14 h (the UTC offsets in use run
from -12:00 to +14:00), give or take `SKEW` for the two clocks and delivery. A START must
fall in that window; an ANSWER or END may come up to `LONGEST_CALL` later than its start
(a call out: OUT_START and OUT_END alike). The window is wide because the zone is unknown;
what it refuses is everything older than about a day (a START dated 2020 was once
accepted). A call within the window can still be replayed under another `pbx_call_id`:
`screen` ties ANSWER and END to the call's own START (OUT_END to its OUT_START), and the
statistics check (`confirm`) tells what really happened.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callpath.telephony.base import BadEvent, Unauthorized

WALL_CLOCK = "%Y-%m-%d %H:%M:%S"
EARLIEST_OFFSET, LATEST_OFFSET = -12 * 3600, 14 * 3600  # UTC-12:00 … UTC+14:00
SKEW = 15 * 60  # clocks and delivery
LONGEST_CALL = 24 * 3600  # an END's (or ANSWER's) call_start may be this much older
# The notifications whose `call_start` is checked, and how long after the start each may come.
DATED = {
    "NOTIFY_START": 0,
    "NOTIFY_ANSWER": LONGEST_CALL,
    "NOTIFY_END": LONGEST_CALL,
    "NOTIFY_OUT_START": 0,
    "NOTIFY_OUT_END": LONGEST_CALL,
}


def wall_clock(value: str) -> float:
    """A Zadarma date-time (`YYYY-MM-DD HH:MM:SS`, the account's zone) read as UTC seconds."""
    try:
        moment = datetime.strptime(value.strip(), WALL_CLOCK)
    except ValueError as exc:
        raise BadEvent("call_start: must be a date and time, YYYY-MM-DD HH:MM:SS") from exc
    return moment.replace(tzinfo=UTC).timestamp()


def wall_text(moment: float) -> str:
    """UTC seconds as Zadarma writes a date-time (the reverse of `wall_clock`)."""
    return datetime.fromtimestamp(moment, UTC).strftime(WALL_CLOCK)


def check(fields: dict[str, str], now: float) -> None:
    """Raise `Unauthorized` if a dated notification's call started outside the window
    (`BadEvent` if its `call_start` is missing or unreadable)."""
    later = DATED.get(fields.get("event", ""))
    if later is None:
        return
    text = fields.get("call_start", "")
    if not text.strip():
        raise BadEvent("call_start: required (the signed start time of the call)")
    shown = wall_clock(text)
    earliest = now + EARLIEST_OFFSET - later - SKEW
    latest = now + LATEST_OFFSET + SKEW
    if not earliest <= shown <= latest:
        raise Unauthorized(
            f"call_start {text.strip()[:19]!r} is too far from now for a call in progress "
            "(a replayed notification?); refused"
        )
