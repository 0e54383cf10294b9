"""The trace format, version 1 (JSON Lines; see docs/benchmark.md).

A header line, then events sorted by `t` (seconds from the trace start). Unknown keys are
ignored; unknown types are an error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from callpath.domain.calls import plausible_time

VERSION = 1
DEFAULT_TIMEZONE, DEFAULT_SITE = "Europe/Moscow", "demo"
MAX_SITE = 200
EVENT_TYPES = ("pageview", "hidden", "visible", "close", "tap", "call")


class TraceError(ValueError):
    """A trace line that breaks the format; the message names the line."""


@dataclass(frozen=True, slots=True)
class Header:
    start: str  # ISO-8601 UTC, e.g. "2026-03-02T00:00:00Z"
    timezone: str = DEFAULT_TIMEZONE
    site: str = DEFAULT_SITE
    version: int = VERSION

    def as_json(self) -> dict[str, Any]:
        return {
            "type": "header",
            "version": self.version,
            "start": self.start,
            "timezone": self.timezone,
            "site": self.site,
        }


@dataclass(frozen=True, slots=True)
class Event:
    t: float
    type: str
    session: str
    visitor: str | None = None  # pageview
    url: str | None = None  # pageview
    referrer: str | None = None
    ua: str | None = None
    ip: str | None = None
    call: str | None = None  # call: its id
    caller: str | None = None  # call
    dialed: str | None = None  # call: overrides the number the session was shown

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": round(self.t, 3), "type": self.type, "session": self.session}
        for name in ("visitor", "url", "referrer", "ua", "ip", "call", "caller", "dialed"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


def write(out: TextIO, header: Header, events: Iterable[Event]) -> int:
    out.write(json.dumps(header.as_json(), ensure_ascii=False) + "\n")
    count = 0
    for event in events:
        out.write(json.dumps(event.as_json(), ensure_ascii=False) + "\n")
        count += 1
    return count


def load(path: Path) -> tuple[Header, list[Event]]:
    """A whole trace file, checked (TraceError; OSError when it cannot be read). A byte
    order mark some editors write is allowed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TraceError(f"not UTF-8 text (byte {exc.start})") from exc
    header, events = read(text.splitlines())
    return header, list(events)


def read(lines: Iterable[str]) -> tuple[Header, Iterator[Event]]:
    """The header (read at once) and the events (read lazily, checked as they come)."""
    iterator = iter(enumerate(lines, start=1))
    header = _header(iterator)
    return header, _events(iterator, start_epoch(header.start))


def start_time(start: str) -> datetime:
    """A trace's `start` (ISO-8601; without a zone it is UTC) in UTC; TraceError when it
    is not such a time or lies outside 2000..2100 (the call times callpath accepts)."""
    try:
        moment = datetime.fromisoformat(start.replace("Z", "+00:00"))
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise TraceError(f"`start` {start[:40]!r} is not an ISO-8601 time") from exc
    if not plausible_time(moment.timestamp()):
        raise TraceError("`start` must lie between 2000 and 2100")
    return moment


def start_epoch(start: str) -> float:
    """`start_time` as Unix seconds."""
    return start_time(start).timestamp()


def zone(name: str) -> ZoneInfo:
    """An IANA timezone; TraceError when there is none of that name."""
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise TraceError(f"unknown timezone {name[:60]!r}") from exc


def _header(iterator: Iterator[tuple[int, str]]) -> Header:
    for number, line in iterator:
        if not line.strip():
            continue
        data = _json(number, line)
        if data.get("type") != "header":
            raise TraceError(f"line {number}: the first line must be the header")
        if data.get("version") != VERSION:
            raise TraceError(f"line {number}: unsupported trace version {data.get('version')!r}")
        if not isinstance(data.get("start"), str):
            raise TraceError(f"line {number}: header needs `start` (ISO-8601 time)")
        timezone, site = str(data.get("timezone") or DEFAULT_TIMEZONE), data.get("site")
        try:
            start_time(data["start"]), zone(timezone)
        except TraceError as exc:
            raise TraceError(f"line {number}: {exc}") from exc
        return Header(data["start"], timezone, _label(number, site or DEFAULT_SITE))
    raise TraceError("empty trace")


def _label(number: int, site: object) -> str:
    text = str(site)
    if len(text) > MAX_SITE or not text.isprintable():
        raise TraceError(f"line {number}: `site` must be printable, at most {MAX_SITE} characters")
    return text


def _events(iterator: Iterator[tuple[int, str]], start: float) -> Iterator[Event]:
    last = -math.inf
    visitors: dict[str, str] = {}  # session -> its visitor
    calls: set[str] = set()
    for number, line in iterator:
        if not line.strip():
            continue
        event = _event(number, _json(number, line), visitors)
        if event.t < last:
            raise TraceError(f"line {number}: events must be sorted by t")
        if not plausible_time(start + event.t):
            raise TraceError(f"line {number}: `t` puts the event past 2100")
        if event.call is not None:
            if event.call in calls:
                raise TraceError(f"line {number}: call id {event.call[:60]!r} is used twice")
            calls.add(event.call)
        last = event.t
        yield event


def _json(number: int, line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise TraceError(f"line {number}: not JSON") from exc
    if not isinstance(data, dict):
        raise TraceError(f"line {number}: not a JSON object")
    return data


def _event(number: int, data: dict[str, Any], visitors: dict[str, str]) -> Event:
    kind, t, session = data.get("type"), data.get("t"), data.get("session")
    if kind not in EVENT_TYPES:
        raise TraceError(f"line {number}: unknown event type {kind!r}")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
        raise TraceError(f"line {number}: `t` must be seconds from the start")
    if not isinstance(session, str) or not session:
        raise TraceError(f"line {number}: `session` is required")
    texts = {
        k: _text(number, data, k)
        for k in ("visitor", "url", "referrer", "ua", "ip", "call", "caller", "dialed")
    }
    if kind == "pageview":  # no first-party id: the session's own, else a visitor of its own
        visitor = texts["visitor"] or visitors.get(session) or f"~{session}"
        texts["visitor"] = visitors[session] = visitor
    if kind == "call" and not texts["call"]:
        raise TraceError(f"line {number}: a call needs its `call` id")
    return Event(
        t=float(t),
        type=kind,
        session=session,
        visitor=texts["visitor"],
        url=texts["url"],
        referrer=texts["referrer"],
        ua=texts["ua"],
        ip=texts["ip"],
        call=texts["call"],
        caller=texts["caller"],
        dialed=texts["dialed"],
    )


def _text(number: int, data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TraceError(f"line {number}: `{key}` must be a string")
    return value
