"""The delivery worker's bookkeeping: which deliveries are due (and held by this worker
while it sends them), and what an attempt's outcome does to its delivery and its
destination (`domain.outbox` decides: retry when, give up, pause the destination)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from callpath.domain import outbox
from callpath.storage import outbox_repo, remote_link_repo
from callpath.storage.db import transaction

log = logging.getLogger("callpath.outbox")
Row = dict[str, Any]
PAUSED = "destination.paused"  # told to the account's notifications, not subscribed to
NOTIFIERS = ("email", "telegram")
LEASE_SECONDS = 120.0  # a worker that died mid-send: its deliveries are due again after


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one attempt brought back (`status` None: no answer)."""

    status: int | None
    latency_ms: int
    excerpt: str
    retry_after: float | None = None
    final: bool = False  # not to be retried (a sender knows it would do harm)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def take_due(engine: Engine, now: float, limit: int) -> list[Row]:
    """Due deliveries, now held by this worker (oldest first). Looking takes no write
    lock (on SQLite, routing's writes never wait for an idle worker's polls)."""
    with transaction(engine, write=False) as conn:
        rows = outbox_repo.due(conn, now, limit)
    if not rows:
        return []
    with transaction(engine) as conn:
        held = set(outbox_repo.lease(conn, [r["id"] for r in rows], now + LEASE_SECONDS, now))
    return [r for r in rows if r["id"] in held]


def put_back(engine: Engine, rows: list[Row], next_at: float) -> None:
    """Held but not tried (their destination failed first in this round)."""
    with transaction(engine) as conn:
        outbox_repo.release(conn, [r["id"] for r in rows], next_at)


def defer(engine: Engine, delivery: Row, until: float, why: str) -> None:
    """Not sent now, not failed either: due again at `until` (no attempt counted)."""
    with transaction(engine) as conn:
        outbox_repo.release(conn, [delivery["id"]], until)
        outbox_repo.note(conn, delivery["id"], why[:300])


def record(engine: Engine, delivery: Row, attempt: Attempt, now: float, first_retry: float) -> str:
    """The attempt in the log, the delivery's next state (its name), and the destination's
    failure streak (paused when long: `domain.outbox.should_pause`)."""
    attempts = int(delivery["attempts"]) + 1
    state, next_at, error = _next(delivery, attempt, attempts, now, first_retry)
    with transaction(engine) as conn:
        outbox_repo.record_attempt(
            conn,
            delivery,
            {
                "account_id": delivery["account_id"],
                "delivery_id": delivery["id"],
                "at": now,
                "status": attempt.status,
                "ok": attempt.ok,
                "latency_ms": attempt.latency_ms,
                "excerpt": attempt.excerpt[:2000] or None,
            },
            {
                "state": state,
                "attempts": attempts,
                "next_at": next_at,
                "delivered_at": now if attempt.ok else None,
                "last_error": error,
            },
        )
        if attempt.ok:
            outbox_repo.destination_succeeded(conn, int(delivery["destination_id"]))
        else:
            _count_failure(conn, int(delivery["destination_id"]), now, error)
    return state


def _next(
    delivery: Row, attempt: Attempt, attempts: int, now: float, first_retry: float
) -> tuple[str, float, str | None]:
    if attempt.ok:
        return "delivered", now, None
    http = attempt.status is not None and delivery.get("kind") != "email"
    error = (f"HTTP {attempt.status}: " if http else "") + attempt.excerpt
    if attempt.final or not outbox.retryable(attempt.status):
        return "failed", now, error[:300]
    if outbox.gives_up(float(delivery["created_at"]), now):
        return "failed", now, ("gave up after retrying: " + error)[:300]
    wait = outbox.retry_delay(attempts, attempt.retry_after, first=first_retry)
    return "pending", now + wait, error[:300]


def _count_failure(conn: Any, dest_id: int, now: float, error: str | None) -> None:
    streak = outbox_repo.destination_failed(conn, dest_id, now)
    if streak["paused_at"] is None and outbox.should_pause(
        streak["failing_since"], int(streak["failures"]), now
    ):
        account_id = int(streak["account_id"])
        outbox_repo.set_paused(conn, account_id, dest_id, now, outbox.PAUSED_BY_FAILURES)
        _tell_paused(conn, account_id, dest_id, streak, error, now)
        log.warning(
            "destination %s paused: %s failed attempts since %s, none succeeded",
            dest_id,
            streak["failures"],
            streak["failing_since"],
        )


class Links:
    """What destinations made of ours (`storage.outbox_repo` remote links), for senders:
    a call already sent is found, a new one remembered (once: a second `remember` of
    the same remote id is a no-op)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def of_call(self, dest_id: int, call_id: str) -> list[tuple[str, str]]:
        with transaction(self.engine, write=False) as conn:
            rows = remote_link_repo.links_of_call(conn, dest_id, call_id)
        return [(str(r["kind"]), str(r["remote_id"])) for r in rows]

    def call_of(self, dest_id: int, kind: str, remote_id: str) -> str | None:
        with transaction(self.engine, write=False) as conn:
            return remote_link_repo.call_of_remote(conn, dest_id, kind, remote_id)

    def has(self, dest_id: int, kind: str, remote_id: str) -> bool:
        with transaction(self.engine, write=False) as conn:
            return remote_link_repo.has_link(conn, dest_id, kind, remote_id[:64])

    def remember(
        self,
        account_id: int,
        dest_id: int,
        kind: str,
        remote_id: str,
        call_id: str | None,
        now: float,
    ) -> bool:
        """Whether this call made the mark (False: it was there already)."""
        try:
            with transaction(self.engine) as conn:
                if remote_link_repo.has_link(conn, dest_id, kind, remote_id[:64]):
                    return False
                remote_link_repo.add_link(
                    conn,
                    {
                        "account_id": account_id,
                        "destination_id": dest_id,
                        "kind": kind,
                        "remote_id": remote_id[:64],
                        "call_id": call_id,
                        "created_at": now,
                    },
                )
        except IntegrityError:
            return False  # another sender made it meanwhile (the unique index)
        return True

    def forget(self, dest_id: int, kind: str, remote_id: str) -> None:
        """A mark taken before sending, dropped: the destination surely did not take it."""
        with transaction(self.engine) as conn:
            remote_link_repo.drop_link(conn, dest_id, kind, remote_id[:64])


def _tell_paused(
    conn: Any, account_id: int, dest_id: int, streak: Row, error: str | None, now: float
) -> None:
    """The account's e-mail and Telegram destinations hear of it (in the pausing
    transaction): a `destination.paused` event queued to each but the paused one."""
    takers = [
        int(row["id"])
        for row in outbox_repo.destinations_of(conn, account_id)
        if row["kind"] in NOTIFIERS and int(row["id"]) != dest_id
    ]
    if not takers:
        return
    name = next(
        (r["name"] for r in outbox_repo.destinations_of(conn, account_id) if r["id"] == dest_id),
        str(dest_id),
    )
    event = {
        "account_id": account_id,
        "site_id": None,
        "type": PAUSED,
        "subject": str(dest_id),
        "payload": {
            "destination_id": dest_id,
            "name": name,
            "failures": int(streak["failures"]),
            "failing_since": _utc(streak["failing_since"]),
            "last_error": error,
        },
        "created_at": now,
    }
    outbox_repo.enqueue(conn, event, takers, now)


def _utc(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(float(at), UTC).strftime("%Y-%m-%d %H:%M UTC")
