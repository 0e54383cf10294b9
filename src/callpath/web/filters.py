"""Journal and API filters from query strings (hostile like everything else)."""

from __future__ import annotations

from datetime import MAXYEAR, datetime, timedelta
from zoneinfo import ZoneInfo

from callpath.domain import phone
from callpath.reports.calls import STATUS_FILTERS, Filters
from callpath.web.errors import ClientError

MAX_LIMIT = 500


def moment(text: str | None, zone: str, end: bool = False) -> float | None:
    """A date ("2026-03-01", read in `zone`; as an upper bound the whole day counts) or
    an ISO-8601 time with its offset."""
    if not text:
        return None
    text = text.strip()
    if len(text) > 40:
        raise ClientError(400, "dates: at most 40 characters")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ClientError(400, f"{text!r} is not a date (YYYY-MM-DD) or ISO-8601 time") from exc
    if len(text) == 10:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone))
        if end:
            if parsed.year == MAXYEAR:
                raise ClientError(400, f"{text!r}: dates go up to {MAXYEAR - 1}")
            parsed += timedelta(days=1)
    elif parsed.tzinfo is None:
        raise ClientError(400, f"{text!r}: give the UTC offset, or a plain date")
    try:
        return parsed.timestamp()
    except (OverflowError, ValueError) as exc:
        raise ClientError(400, f"{text!r}: out of range") from exc


def build(
    account_id: int,
    zone: str,
    *,
    site_id: int | None = None,
    since: str | None = None,
    until: str | None = None,
    status: str | None = None,
    number: str | None = None,
    channel: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    region: str = "RU",
    visitor_id: str | None = None,
) -> Filters:
    if status and status not in STATUS_FILTERS:
        raise ClientError(400, "status: one of " + ", ".join(STATUS_FILTERS))
    if not 1 <= limit <= MAX_LIMIT:
        raise ClientError(400, f"limit: 1..{MAX_LIMIT}")
    if channel and len(channel) > 520:
        raise ClientError(400, "channel: too long")
    if cursor and len(cursor) > 200:
        raise ClientError(400, "cursor: not a cursor this server gave out")
    e164 = None
    if number:
        e164 = phone.try_e164(number[:40], region)
        if e164 is None:
            raise ClientError(400, f"number: {number[:40]!r} is not a phone number")
    return Filters(
        account_id=account_id,
        site_id=site_id,
        since=moment(since, zone),
        until=moment(until, zone, end=True),
        status=status or None,
        number=e164,
        channel=channel or None,
        cursor=cursor or None,
        limit=limit,
        visitor_id=visitor_id,
    )
