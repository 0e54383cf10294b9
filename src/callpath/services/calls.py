"""Calls: store raw events, fold them into one call, match the call to its visit.

Storing is what the webhook waits for; folding and matching (`apply`) run after the
answer went out, and again from the pending queue if that was interrupted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine

from callpath import telephony
from callpath.domain import phone, pool_groups, visit_code
from callpath.domain.calls import CallEvent, CallFacts, call_key, fold
from callpath.domain.matching import (
    EarlierCall,
    Holder,
    Match,
    Ring,
    by_visit_code,
    match_call,
)
from callpath.services import outbox
from callpath.storage import call_repo
from callpath.storage.db import is_sqlite, transaction
from callpath.telephony.base import BadEvent

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Integration:
    id: str
    account_id: int
    site_id: int
    kind: str
    secret: str
    active: bool
    default_destination: str | None
    region: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Integration:
        return cls(**{f: row[f] for f in cls.__slots__})


@dataclass(frozen=True, slots=True)
class Received:
    """One verified, parsed delivery, as it is stored (and spooled)."""

    integration_id: str
    account_id: int
    dedup_key: str
    call_key: str
    kind: str
    received_at: float
    body: str
    response: dict[str, Any]

    def as_record(self) -> dict[str, Any]:
        return asdict(self)


def received(
    integ: Integration, event: CallEvent, dedup_key: str, body: bytes, now: float
) -> Received:
    return Received(
        integration_id=integ.id,
        account_id=integ.account_id,
        dedup_key=dedup_key,
        call_key=call_key(integ.id, event.call_id),
        kind=event.kind,
        received_at=now,
        body=body.decode("utf-8"),
        response={},
    )


def store(conn: Connection, item: Received) -> tuple[dict[str, Any], bool]:
    """Keep the raw event. A redelivery changes nothing and gets the first answer; the
    flag says whether the event was new."""
    if call_repo.insert_event(conn, item.as_record()):
        return item.response, True
    stored = call_repo.stored_response(conn, item.integration_id, item.dedup_key)
    return (dict(stored) if isinstance(stored, dict) else item.response), False


@dataclass(frozen=True, slots=True)
class _Plan:
    event_ids: list[int]
    values: dict[str, Any] | None  # None: nothing to fold (events kept for audit only)
    takers: list[dict[str, Any]]  # the destinations its events go to (outbox.call_takers)


def apply(engine: Engine, key: str, clock: Clock, attempts: int = 5) -> bool:
    """Fold every stored event of call `key` into the call row and match it.

    The reading (events, holders, earlier calls) runs in a read transaction, so on SQLite
    the write lock that routing and the tracker need is held only for the short save. The
    save goes ahead only if the call's events are still the ones that were folded; if more
    arrived meanwhile it folds again. Savers of one call take turns (`serialize_call`).
    False: still contended after `attempts` (the events stay pending for the worker).
    PostgreSQL needs neither: `_apply_locked` reads after taking the call's lock.
    A call whose events are all applied is left as it is: two appliers that picked the
    same call (the web process's worker and the apply process around a late heartbeat,
    a redelivery's apply racing the first) fold it once, not twice.
    """
    if not is_sqlite(engine):
        return _apply_locked(engine, key, clock)
    for _ in range(attempts):
        with transaction(engine, write=False) as conn:
            plan = _plan(conn, key, clock())
        if plan is None:
            return True
        with transaction(engine) as conn:
            call_repo.serialize_call(conn, key)
            ids, pending = call_repo.event_ids(conn, key)
            if ids != plan.event_ids:
                continue
            if not pending:
                return True  # another applier saved this very fold meanwhile
            if plan.values is not None:
                _save(conn, plan, clock())
            call_repo.mark_applied(conn, plan.event_ids, clock())
            return True
    return False


def _apply_locked(engine: Engine, key: str, clock: Clock) -> bool:
    """PostgreSQL: one transaction that takes the call's lock before reading, so appliers
    of one call take turns and each folds every event committed before its turn (an
    event committed later brings its own apply, which waits for this one). Other calls
    are not held up: the lock is per call, and PostgreSQL has no single writer."""
    with transaction(engine) as conn:
        call_repo.serialize_call(conn, key)
        plan = _plan(conn, key, clock())
        if plan is None:
            return True
        if plan.values is not None:
            _save(conn, plan, clock())
        call_repo.mark_applied(conn, plan.event_ids, clock())
    return True


def _save(conn: Connection, plan: _Plan, now: float) -> None:
    """The call row, and the events its change makes for the account's destinations
    (same transaction: queued if and only if saved)."""
    assert plan.values is not None
    watch = outbox.CallWatch.before_save(conn, plan.values, plan.takers)
    call_repo.upsert_call(conn, plan.values)
    if watch is not None:
        watch.after_save(conn, plan.values, now)


def _plan(conn: Connection, key: str, now: float) -> _Plan | None:
    rows = call_repo.events_of(conn, key)
    if all(row["applied_at"] is not None for row in rows):
        return None  # no events, or all folded already
    integ = call_repo.integration(conn, rows[0]["integration_id"])
    if integ is None:
        return None
    ids = sorted(r["id"] for r in rows)
    events = _parse_all(integ["kind"], rows)
    if not events:
        return _Plan(ids, None, [])
    values = {**_fold_and_match(conn, key, integ, events, now), "forward_to": _routed(rows)}
    return _Plan(ids, values, outbox.call_takers(conn, values))


def _routed(rows: list[dict[str, Any]]) -> str | None:
    """Where the call was forwarded: the answer given to its `started` event."""
    for row in rows:
        answer = row["response"]
        if isinstance(answer, dict) and answer.get("forward_to"):
            return str(answer["forward_to"])
    return None


def apply_pending(engine: Engine, clock: Clock, older_than: float = 5.0, limit: int = 200) -> int:
    with transaction(engine, write=False) as conn:
        keys = call_repo.pending_call_keys(conn, clock() - older_than, limit)
    for key in keys:
        apply(engine, key, clock)
    return len(keys)


def _parse_all(kind: str, rows: list[dict[str, Any]]) -> list[CallEvent]:
    parser = telephony.parser(kind)
    screen = telephony.screen(kind)
    if screen is not None:
        rows = screen(rows)  # e.g. Zadarma: an END counts only with its call's START
    events: list[CallEvent] = []
    for row in rows:
        if row["kind"] == visit_code.KIND:
            events += _entered(row["body"])
            continue
        try:
            events.append(parser(row["body"].encode("utf-8"))[0])
        except BadEvent:
            continue  # stored before a stricter parser: kept for audit, not folded
    return events


def _entered(body: str) -> list[CallEvent]:
    """A visit code an operator or a CRM entered on the call (`services.visit_codes`)."""
    entry = visit_code.read_entry(body)
    if entry is None:
        return []
    return [CallEvent(visit_code.KIND, entry.call_id, entry.at, visit=entry.claim)]


def _fold_and_match(
    conn: Connection, key: str, integ: dict[str, Any], events: list[CallEvent], now: float
) -> dict[str, Any]:
    facts = fold(events)
    if facts.direction == "outbound":
        return _outbound(conn, key, integ, events[0].call_id, facts, now)
    called = phone.try_e164(facts.called, integ["region"])
    caller = phone.try_e164(facts.caller, integ["region"])
    number = call_repo.number_by_e164(conn, integ["account_id"], called) if called else None
    site_id = number["site_id"] if number else integ["site_id"]
    site = call_repo.site_settings(conn, site_id)
    match = _match(conn, key, facts, number, site, caller)
    if facts.visit is not None:
        v = facts.visit
        match = by_visit_code(v.code, v.session_id, v.visitor_id, match)
    return {
        **_identity(key, integ, events[0].call_id),
        **_fact_values(facts, now),
        "site_id": site_id,
        "number_id": number["id"] if number else None,
        "tracking_number": called or (facts.called or "")[:32] or None,
        "caller": caller or (facts.caller or "")[:32] or None,
        **_match_values(conn, match, number),
    }


def _outbound(
    conn: Connection,
    key: str,
    integ: dict[str, Any],
    provider_call_id: str,
    facts: CallFacts,
    now: float,
) -> dict[str, Any]:
    """A call the business made: `caller` keeps the customer it called (so a missed call
    of theirs counts as called back), `tracking_number` the line it called from. It is
    matched to no visit: nobody saw a number before it."""
    line = phone.try_e164(facts.caller, integ["region"])
    customer = phone.try_e164(facts.called, integ["region"])
    number = call_repo.number_by_e164(conn, integ["account_id"], line) if line else None
    return {
        **_identity(key, integ, provider_call_id),
        **_fact_values(facts, now),
        "site_id": number["site_id"] if number else integ["site_id"],
        "number_id": number["id"] if number else None,
        "tracking_number": line or (facts.caller or "")[:32] or None,
        "caller": customer or (facts.called or "")[:32] or None,
        **_match_values(conn, Match("outbound", 0.0, None, None, False, None, ()), None),
    }


def _identity(key: str, integ: dict[str, Any], provider_call_id: str) -> dict[str, Any]:
    return {
        "id": key,
        "account_id": integ["account_id"],
        "integration_id": integ["id"],
        "provider_call_id": provider_call_id,
    }


def _fact_values(facts: CallFacts, now: float) -> dict[str, Any]:
    values = asdict(facts)
    for name in ("caller", "called", "visit"):
        values.pop(name)
    values["updated_at"] = now
    return values


def _match(
    conn: Connection,
    key: str,
    facts: CallFacts,
    number: dict[str, Any] | None,
    site: dict[str, Any],
    caller: str | None,
) -> Match:
    kind = number["kind"] if number else None
    ring = Ring(
        kind,
        facts.started_at,
        site["match_window"],
        site["ping_interval"],
        site["policy"],
        _foreign(caller, site["region"]),
    )
    holders = []
    if kind == "pool" and number:
        rows = call_repo.holders(conn, number["id"], ring.at, ring.match_window)
        holders = [Holder(**r) for r in rows]
    earlier: list[EarlierCall] = []
    if caller:
        rows = call_repo.earlier_calls(conn, site["id"], caller, facts.started_at, key)
        number_id = number["id"] if number else None
        earlier = [_earlier(r, number_id) for r in rows]
    return match_call(ring, holders, earlier)


def _foreign(caller: str | None, site_region: str) -> str | None:
    """The caller's country when it is not the site's own (None: domestic or unknown)."""
    region = phone.region_of(caller) if caller else None
    return region if region and region != site_region else None


def _earlier(row: dict[str, Any], number_id: int | None) -> EarlierCall:
    same = number_id is not None and row["number_id"] == number_id
    return EarlierCall(
        row["id"], row["started_at"], row["visitor_id"], row["session_id"], row["confidence"], same
    )


def _match_values(conn: Connection, match: Match, number: dict[str, Any] | None) -> dict[str, Any]:
    channel: dict[str, Any] = {"source": None, "medium": None, "campaign": None, "keyword": None}
    if match.session_id:
        channel.update(call_repo.session_channel(conn, match.session_id) or {})
    elif match.method == "static" and number:
        channel.update(
            source=number["channel_source"],
            medium=number["channel_medium"],
            campaign=number["channel_campaign"],
        )
    elif match.method == "none" and number:
        channel.update(_group_channel(number))
    return {
        **channel,
        "session_id": match.session_id,
        "visitor_id": match.visitor_id,
        "match_method": match.method,
        "confidence": match.confidence,
        "alternatives": [asdict(a) for a in match.alternatives],
        "repeat": match.repeat,
        "first_call_id": match.first_call_id,
    }


def _group_channel(number: dict[str, Any]) -> dict[str, str]:
    """An unattributed call to a number of a "source/medium" sub-pool still tells its
    channel: that number is shown to sessions of that channel only (unless the site has
    no ungrouped pool numbers to fall back on)."""
    found = pool_groups.channel_of(number.get("pool_group"))
    return {"source": found[0], "medium": found[1]} if found else {}


def parse_record(record: dict[str, Any]) -> Received:
    """A spooled delivery back as `Received` (the spool holds `as_record()` as JSON)."""
    return Received(**record)
