"""AMI events (Asterisk 13+) → call events for calls to tracking numbers (pure).

Every channel event carries the channel's snapshot (`Uniqueid`, `Linkedid`, `Context`,
`Exten`, `CallerIDNum`). A call is the set of channels sharing a `Linkedid`; its
originating channel (`Uniqueid == Linkedid`) is the caller's leg. A call is tracked
when, while it is still in the dialplan (before its first `DialBegin`), the originating
channel's `Exten` or FreePBX's `FROM_DID` variable is one of the account's tracking
numbers, and it did not start in an internal context (a phone of the office dialling
out). A call that did start in an internal context is a call out when, before its first
`DialBegin`, its `Exten` showed an outside number (`OutsideNumber`: a valid phone number
that is none of the account's tracking numbers; an extension is not one): `started`
names that number as `called` (the customer) and the dialled channel's caller id (the
line shown, else the phone's own) as `caller`, with `direction` outbound. Then, for
both:

- `started` (dated when its first channel appeared) as soon as the number is known;
- `answered` at the first `DialEnd` with `DialStatus: ANSWER` (or a `BridgeEnter` of
  two channels: a pickup), never at the dialplan's own `Answer()` (IVR, voicemail);
- `ended` when the originating channel hangs up: answered; else what the dial attempts
  said (a NOANSWER/CANCEL anywhere: missed; else BUSY: busy; else CONGESTION or
  CHANUNAVAIL: failed); without any dial, the hang-up `Cause` (17 busy, network
  failures failed, else missed). Talk and duration come from the PBX's own
  `Timestamp` fields when it sends them (`timestampevents = yes`), else from arrival;
- `recording` once the call is answered and any of its channels said where MixMonitor
  writes it (`VarSet` of `MIXMONITOR_FILENAME`, the file's absolute path; FreePBX's
  `CALLFILENAME` is only the base name, so it is not used): a `file://` URL of that path,
  once per call, the first valid path winning. It is a reference: the file stays on the PBX.

Event times are when the events reached us (the reservations they are matched with were
written on our clock too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from callpath.domain.calls import CallEvent

TrackedNumber = Callable[[str], str | None]  # dialled digits → tracking number (E.164)
OutsideNumber = Callable[[str], str | None]  # dialled digits → a customer's number (E.164)

INTERNAL_CONTEXTS = frozenset({"from-internal"})  # FreePBX's context of its extensions
_DID_VARIABLES = frozenset({"FROM_DID", "__FROM_DID"})
_RECORDING_VARIABLE = "MIXMONITOR_FILENAME"  # set by MixMonitor: the file's full path
MAX_RECORDING_URL = 2000
_FAILED_CAUSES = frozenset({1, 3, 27, 28, 34, 38, 41, 42, 44, 58})
_FAILED_DIALS = frozenset({"CONGESTION", "CHANUNAVAIL"})
_MISSED_DIALS = frozenset({"NOANSWER", "CANCEL"})
_MAX_SECONDS = 7 * 86_400.0


@dataclass(slots=True)
class _Call:
    linkedid: str
    first_seen: float
    pbx_first: float | None
    internal: bool
    caller: str | None = None
    number: str | None = None  # the tracking number (a call out: the customer), once known
    dialled: str | None = None  # an outside number an office phone dialled, before a Dial
    outbound: bool = False  # a call out: an office phone calling a customer
    routing: bool = True  # before the first Dial: the dialled number may still show
    answered: float | None = None
    pbx_answered: float | None = None
    dials: set[str] = field(default_factory=set)
    recording: str | None = None  # file:// URL of MixMonitor's file, once reported
    recording_sent: bool = False


class CallTracker:
    """Feed it AMI blocks in the order they arrived; it returns the call events."""

    def __init__(
        self,
        tracked: TrackedNumber,
        internal_contexts: frozenset[str] = INTERNAL_CONTEXTS,
        max_calls: int = 10_000,
        max_age: float = 12 * 3600.0,
        outside: OutsideNumber | None = None,
    ) -> None:
        self._tracked = tracked
        self._outside = outside  # None: calls out are not followed
        self._internal = internal_contexts
        self._max_calls = max_calls
        self._max_age = max_age
        self._calls: dict[str, _Call] = {}

    @property
    def open_calls(self) -> int:
        return len(self._calls)

    def feed(self, block: Mapping[str, str], now: float) -> list[CallEvent]:
        name = block.get("Event")
        uniqueid = _field(block, "Uniqueid")
        if name is None or uniqueid is None:
            return []
        linkedid = _field(block, "Linkedid") or uniqueid
        if name == "Newchannel" and uniqueid == linkedid:
            self._open(block, linkedid, now)
        call = self._calls.get(linkedid)
        if call is None:
            return []  # a call that began before we listened, or not one of interest
        events = self._classify(call, block, name, uniqueid == linkedid)
        events += self._progress(call, block, name, uniqueid == linkedid, now)
        events += self._recording(call, block, name, now)
        return events

    def _open(self, block: Mapping[str, str], linkedid: str, now: float) -> None:
        self._forget_old(now)
        context = block.get("Context", "")
        self._calls[linkedid] = _Call(
            linkedid, now, _pbx_time(block), internal=context in self._internal
        )

    def _forget_old(self, now: float) -> None:
        """Calls whose hang-up we never saw (a lost link) must not pile up."""
        while self._calls:
            oldest = next(iter(self._calls.values()))
            if len(self._calls) < self._max_calls and oldest.first_seen > now - self._max_age:
                return
            del self._calls[oldest.linkedid]

    def _classify(
        self, call: _Call, block: Mapping[str, str], name: str, originating: bool
    ) -> list[CallEvent]:
        if not originating or not call.routing:
            return []
        if call.internal:
            self._dialling_out(call, block)
            return []
        if name != "Hangup":
            call.caller = _field(block, "CallerIDNum") or call.caller
        if call.number is not None:
            return []
        candidates = [_field(block, "Exten")]
        if name == "VarSet" and block.get("Variable") in _DID_VARIABLES:
            candidates.append(_field(block, "Value"))
        for digits in candidates:
            number = self._tracked(digits) if digits else None
            if number:
                call.number = number
                return [
                    CallEvent(
                        "started", call.linkedid, call.first_seen, caller=call.caller, called=number
                    )
                ]
        return []

    def _dialling_out(self, call: _Call, block: Mapping[str, str]) -> None:
        digits = _field(block, "Exten")
        found = self._outside(digits) if self._outside and digits else None
        call.dialled = found or call.dialled

    def _progress(
        self, call: _Call, block: Mapping[str, str], name: str, originating: bool, now: float
    ) -> list[CallEvent]:
        if name == "DialBegin":
            started = self._call_out(call, block) if originating and call.routing else []
            call.routing = False
            return started
        elif name == "DialEnd":
            status = block.get("DialStatus", "").strip().upper()
            call.dials.add(status)
            if status == "ANSWER":
                return self._answer(call, block, now)
        elif name == "BridgeEnter" and _int(block.get("BridgeNumChannels")) >= 2:
            return self._answer(call, block, now)
        elif name == "Hangup" and originating:
            del self._calls[call.linkedid]
            return self._end(call, block, now)
        return []

    def _call_out(self, call: _Call, block: Mapping[str, str]) -> list[CallEvent]:
        """An office phone's first Dial after it dialled an outside number: the call out
        starts (dated when its first channel appeared)."""
        if not call.internal or call.dialled is None or call.number is not None:
            return []
        call.outbound, call.number = True, call.dialled
        call.caller = _field(block, "DestCallerIDNum") or _field(block, "CallerIDNum")
        started = CallEvent(
            "started", call.linkedid, call.first_seen, caller=call.caller, called=call.number
        )
        return [_as_dialled(call, started)]

    def _answer(self, call: _Call, block: Mapping[str, str], now: float) -> list[CallEvent]:
        call.routing = False
        if call.answered is not None:
            return []
        call.answered, call.pbx_answered = now, _pbx_time(block)
        answered = CallEvent("answered", call.linkedid, now)
        return [_as_dialled(call, answered)] if call.number else []

    def _recording(
        self, call: _Call, block: Mapping[str, str], name: str, now: float
    ) -> list[CallEvent]:
        """Any channel of the call may run MixMonitor; told once the call is answered."""
        if name == "VarSet" and block.get("Variable") == _RECORDING_VARIABLE:
            call.recording = call.recording or file_url(block.get("Value", ""))
        ready = call.answered is not None and call.number is not None
        if not ready or call.recording is None or call.recording_sent:
            return []
        call.recording_sent = True
        return [CallEvent("recording", call.linkedid, now, recording_url=call.recording)]

    def _end(self, call: _Call, block: Mapping[str, str], now: float) -> list[CallEvent]:
        if call.number is None:
            return []
        pbx_end = _pbx_time(block)
        duration = _span(call.first_seen, call.pbx_first, now, pbx_end)
        talk = 0.0
        if call.answered is not None:
            talk = _span(call.answered, call.pbx_answered, now, pbx_end)
        status = _status(call, _int(block.get("Cause")))
        event = CallEvent(
            "ended",
            call.linkedid,
            now,
            caller=call.caller,
            called=call.number,
            duration=duration,
            talk=talk,
            status=status,
        )
        return [_as_dialled(call, event)]


def _as_dialled(call: _Call, event: CallEvent) -> CallEvent:
    """A call out's events say so; a call in's say nothing (inbound is the default)."""
    return replace(event, direction="outbound") if call.outbound else event


def file_url(path: str) -> str | None:
    """An absolute path of a file on the PBX as a percent-encoded `file://` URL; None for
    anything else: relative or empty, `//host` forms, `..`, a folder, control characters
    (NUL, CR, LF …), too long."""
    if not path.isprintable() or not path.startswith("/") or path.startswith("//"):
        return None
    pure = PurePosixPath(path)
    if path.endswith("/") or not pure.name or ".." in pure.parts:
        return None
    url = pure.as_uri()
    return url if len(url) <= MAX_RECORDING_URL else None


def _status(call: _Call, cause: int) -> str:
    if call.answered is not None:
        return "answered"
    if call.dials & _MISSED_DIALS:
        return "missed"
    if "BUSY" in call.dials:
        return "busy"
    if call.dials & _FAILED_DIALS:
        return "failed"
    if call.dials:
        return "missed"
    if cause == 17:
        return "busy"
    return "failed" if cause in _FAILED_CAUSES else "missed"


def _span(start: float, pbx_start: float | None, end: float, pbx_end: float | None) -> float:
    """Seconds between two moments, by the PBX's clock when it stamped both."""
    stamped = pbx_start is not None and pbx_end is not None
    seconds = (pbx_end or 0.0) - (pbx_start or 0.0) if stamped else end - start
    return round(min(max(seconds, 0.0), _MAX_SECONDS), 3)


def _pbx_time(block: Mapping[str, str]) -> float | None:
    raw = block.get("Timestamp", "")
    try:
        value = float(raw) if 0 < len(raw) <= 32 else None
    except ValueError:
        return None
    return value if value is not None and 0 < value < 4_102_444_800.0 else None


def _field(block: Mapping[str, str], name: str) -> str | None:
    """A value worth keeping: AMI writes `<unknown>` for an empty caller id; control
    characters (a caller id is whatever the other network sent) are not kept."""
    value = block.get(name, "").strip()
    if not value or value == "<unknown>" or len(value) > 80 or not value.isprintable():
        return None
    return value


def _int(raw: str | None) -> int:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0  # not '²'
