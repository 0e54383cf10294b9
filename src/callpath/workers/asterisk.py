"""The AMI listener: AMI blocks → call events → `CallPipeline.receive` + `apply`.

It runs in its own process next to Asterisk, with access to the database. The AMI login
is the trust boundary (a read-only manager user), so `verify` only requires what the
pipeline already checks: the integration exists, is an Asterisk one and is active.
Asterisk routes its calls itself; the routing decision the pipeline stores with
`started` is not used. An office phone (an internal context) dialling an outside number
that is none of the account's tracking numbers is a call out (`OutsideNumbers`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable

from sqlalchemy.exc import DBAPIError

from callpath.domain import phone
from callpath.domain.calls import CallEvent
from callpath.services.calls import Integration
from callpath.services.pipeline import CallPipeline, Unavailable
from callpath.storage import call_repo
from callpath.storage.db import transaction
from callpath.telephony.asterisk import adapter, ami
from callpath.telephony.asterisk.calls import INTERNAL_CONTEXTS, CallTracker, TrackedNumber
from callpath.telephony.base import BadEvent, Unauthorized

log = logging.getLogger("callpath.asterisk")
KIND = "asterisk"


class TrackedNumbers:
    """The account's active tracking numbers, re-read every `ttl` seconds; while the
    database is away the last list is kept."""

    def __init__(self, pipeline: CallPipeline, integ: Integration, ttl: float = 30.0) -> None:
        self._pipeline = pipeline
        self._integ = integ
        self._ttl = ttl
        self._numbers: frozenset[str] = frozenset()
        self._next_load = 0.0

    def __call__(self, digits: str) -> str | None:
        self._refresh()
        e164 = phone.try_e164(digits, self._integ.region)
        return e164 if e164 in self._numbers else None

    def _refresh(self) -> None:
        now = time.monotonic()
        if now < self._next_load:
            return
        try:
            with transaction(self._pipeline.engine, write=False) as conn:
                rows = call_repo.routing_numbers(conn)
        except DBAPIError:
            log.warning("database unreachable: using the last list of tracking numbers")
            self._next_load = now + min(self._ttl, 5.0)
            return
        account = self._integ.account_id
        self._numbers = frozenset(r["e164"] for r in rows if r["account_id"] == account)
        self._next_load = now + self._ttl


class OutsideNumbers:
    """Digits an office phone dialled → the customer's number (E.164): a valid number in
    the integration's region that is none of the account's tracking numbers (calling
    your own tracking number is a test, not a call out); an extension is no number."""

    def __init__(self, tracked: TrackedNumber, region: str) -> None:
        self._tracked = tracked
        self._region = region

    def __call__(self, digits: str) -> str | None:
        e164 = phone.try_e164(digits, self._region)
        return e164 if e164 and self._tracked(digits) is None else None


class Listener:
    """Turns blocks of one AMI stream into stored, applied call events."""

    def __init__(
        self,
        pipeline: CallPipeline,
        integ: Integration,
        internal_contexts: frozenset[str] = INTERNAL_CONTEXTS,
        echo: Callable[[str], None] = log.info,
    ) -> None:
        self._pipeline = pipeline
        self._integ = integ
        self._echo = echo
        tracked = TrackedNumbers(pipeline, integ)
        outside = OutsideNumbers(tracked, integ.region)
        self.tracker = CallTracker(tracked, internal_contexts, outside=outside)
        self.stored = 0  # new events stored (redeliveries not counted)

    def on_block(self, block: ami.Block) -> None:
        now = self._pipeline.clock()
        for event in self.tracker.feed(block, now):
            self._deliver(event, now)

    def replay(self, blocks: Iterable[ami.Block]) -> None:
        for block in blocks:
            self.on_block(block)

    def _deliver(self, event: CallEvent, now: float) -> None:
        body = adapter.canonical(event, now)
        try:
            reply = self._pipeline.receive(KIND, self._integ.id, body, _trusted, adapter.parse)
        except (Unauthorized, Unavailable, BadEvent) as exc:  # one event: not the listener
            log.error("%s of %s dropped: %s", event.kind, event.call_id, exc)
            return
        if reply.call_key:
            self.stored += 1
            self._pipeline.apply(reply.call_key)
        self._echo(_describe(event, str(reply.body.get("call", "?")), reply.call_key is not None))


def _trusted(_integ: Integration, _now: float) -> None:
    """The AMI login proved the source; kind and state are checked by the pipeline."""


def _describe(event: CallEvent, call: str, new: bool) -> str:
    parts = [f"{event.kind:<8} call {call} (linkedid {event.call_id})"]
    if event.kind == "started":
        parts.append(f"from {phone.mask(event.caller) or 'unknown'} to {event.called}")
    if event.kind == "ended":
        parts.append(f"{event.status}, talk {event.talk or 0:.0f} s")
    if not new:
        parts.append("(already stored)")
    return " ".join(parts)


def run_worker(pipeline: CallPipeline, every: float, refresh: float) -> Callable[[], None]:
    """The pipeline's background loop (spool, pending events, route cache) in a thread;
    returns the function that stops it."""
    stop = threading.Event()
    worker = threading.Thread(
        target=pipeline.work, args=(stop, every, refresh), name="callpath-ami-worker", daemon=True
    )
    worker.start()

    def halt() -> None:
        stop.set()
        worker.join(timeout=10)

    return halt


async def listen(
    listener: Listener, creds: ami.Credentials, timing: ami.Timing, stop: asyncio.Event
) -> None:
    await ami.listen(creds, listener.on_block, timing, stop)
