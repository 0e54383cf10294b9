"""The outbox's delivery rules on a real database and a real receiver, with the tests'
clock: retries and their schedule, refusals, giving up, pausing a failing destination
and resuming it, replays, leases, the address guard at send time, and events that exist
only if what they report was saved."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import Engine, select

from callpath.domain import outbox as rules
from callpath.integrations import destinations, http, senders
from callpath.integrations.http import Client
from callpath.services import deals, deliveries, outbox
from callpath.services.site_input import NotFound
from callpath.storage import outbox_repo
from callpath.storage.db import transaction
from callpath.storage.tables import deliveries as deliveries_table
from callpath.storage.tables import delivery_attempts, outbox_events
from callpath.workers.delivery import Deliverer
from tests.fakes.webhook_receiver import Receiver
from tests.helpers import Clock, Seeded, free_port, seed_site

FIRST = 30.0


@pytest.fixture
def receiver() -> Any:
    found = Receiver(free_port()).start()
    yield found
    found.stop()


@pytest.fixture
def client() -> Any:
    made = Client()
    yield made
    made.close()


def _hook(engine: Engine, site: Seeded, url: str, events: str = "all", private: bool = True) -> Any:
    with transaction(engine) as conn:
        return destinations.add_webhook(
            conn, site.account_id, url, events, time.time(), allow_private=private
        )


def _event(engine: Engine, site: Seeded, now: float, subject: str = "x1") -> int | None:
    with transaction(engine) as conn:
        return outbox.emit(
            conn, site.account_id, site.site_id, "deal.updated", subject, {"n": subject}, now
        )


def _states(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        query = select(deliveries_table.c.state, deliveries_table.c.attempts).order_by(
            deliveries_table.c.id
        )
        return [(str(s), int(a)) for s, a in conn.execute(query)]


def _deliverer(engine: Engine, clock: Clock, client: Client) -> Deliverer:
    return Deliverer(engine, clock, client, first_retry=FIRST, threads=2)


def test_an_event_goes_to_each_subscriber_once_signed(
    engine: Engine, receiver: Receiver, client: Client
) -> None:
    site = seed_site(engine, pool_size=1)
    added = _hook(engine, site, receiver.url, "deal.updated")
    _hook(engine, site, receiver.url, "call.ended")  # not subscribed: gets nothing
    receiver.secret = added.secret
    clock = Clock(time.time())
    receiver.clock = clock
    assert _event(engine, site, clock()) is not None
    worker = _deliverer(engine, clock, client)
    assert worker.round() == 1
    assert worker.round() == 0  # delivered: never again
    worker.close()
    assert receiver.refused == [] and len(receiver.events) == 1
    event = receiver.events[0]
    assert event["type"] == "deal.updated" and event["data"] == {"n": "x1"}
    assert _states(engine) == [("delivered", 1)]


def test_server_errors_are_retried_on_schedule_and_refusals_are_not(
    engine: Engine, receiver: Receiver, client: Client
) -> None:
    site = seed_site(engine, pool_size=1)
    receiver.secret = _hook(engine, site, receiver.url).secret
    clock = Clock(time.time())
    receiver.clock = clock
    worker = _deliverer(engine, clock, client)
    receiver.status = 503
    _event(engine, site, clock())
    worker.round()
    with engine.connect() as conn:
        row = conn.execute(select(deliveries_table)).one()
        attempt = conn.execute(select(delivery_attempts)).one()
    assert row.state == "pending" and row.attempts == 1
    assert FIRST * 0.9 <= row.next_at - clock() <= FIRST * 1.1
    assert attempt.status == 503 and attempt.ok is False and attempt.excerpt == "ok"
    assert worker.round() == 0  # not due yet
    clock.advance(FIRST * 1.2)
    worker.round()
    assert _states(engine) == [("pending", 2)]  # still 503: the wait doubles
    receiver.status = 200
    clock.advance(FIRST * 2.4)
    worker.round()
    assert _states(engine) == [("delivered", 3)]
    receiver.status = 401
    _event(engine, site, clock(), "x2")
    worker.round()
    worker.close()
    assert _states(engine)[1] == ("failed", 1)  # a refusal is not retried


def test_a_delivery_is_given_up_after_two_days_and_can_be_replayed(
    engine: Engine, receiver: Receiver, client: Client
) -> None:
    site = seed_site(engine, pool_size=1)
    added = _hook(engine, site, receiver.url)
    receiver.secret = added.secret
    clock = Clock(time.time())
    receiver.clock = clock
    worker = _deliverer(engine, clock, client)
    receiver.status = 500
    _event(engine, site, clock())
    worker.round()
    clock.advance(rules.GIVE_UP_AFTER + 1)
    worker.round()
    assert _states(engine) == [("failed", 2)]
    receiver.status = 200
    with transaction(engine) as conn:
        dest = int(added.destination["id"])
        (delivery_id,) = [r["id"] for r in destinations.log(conn, site.account_id, dest)]
        destinations.replay_one(conn, site.account_id, delivery_id, clock())
    worker.round()
    worker.close()
    assert _states(engine) == [("delivered", 1)]
    assert len(receiver.events) == 1


def test_a_destination_failing_for_a_day_is_paused_and_resuming_delivers_the_queue(
    engine: Engine, receiver: Receiver, client: Client
) -> None:
    site = seed_site(engine, pool_size=1)
    added = _hook(engine, site, receiver.url)
    receiver.secret = added.secret
    dest = int(added.destination["id"])
    clock = Clock(time.time())
    receiver.clock = clock
    worker = _deliverer(engine, clock, client)
    receiver.status = 500
    for n in range(rules.PAUSE_AFTER_FAILURES + 2):
        _event(engine, site, clock(), f"e{n}")
        worker.round()
        clock.advance(rules.PAUSE_AFTER_SECONDS / rules.PAUSE_AFTER_FAILURES)
    with transaction(engine) as conn:
        row = destinations.found(conn, site.account_id, dest)
    assert row["paused_reason"] == rules.PAUSED_BY_FAILURES and row["paused_at"] is not None
    receiver.status = 200
    clock.advance(rules.MAX_RETRY)
    assert worker.round() == 0  # paused: nothing is sent, the events wait
    with transaction(engine) as conn:
        destinations.resume(conn, site.account_id, dest)
    while worker.round():
        pass
    worker.close()
    states = _states(engine)
    delivered = [s for s in states if s[0] == "delivered"]
    assert len(delivered) + states.count(("failed", 1)) == len(states)
    assert len(delivered) >= rules.PAUSE_AFTER_FAILURES


def test_a_leased_delivery_is_not_taken_by_a_second_worker(engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    _hook(engine, site, "http://127.0.0.1:9/none")
    now = time.time()
    _event(engine, site, now)
    first = deliveries.take_due(engine, now, 10)
    second = deliveries.take_due(engine, now, 10)
    assert len(first) == 1 and second == []
    later = deliveries.take_due(engine, now + deliveries.LEASE_SECONDS + 1, 10)
    assert len(later) == 1  # a worker that died: its lease runs out


def test_the_address_guard_holds_when_the_request_is_made(
    engine: Engine, receiver: Receiver, client: Client
) -> None:
    """A destination stored as public whose host now points at loopback (DNS changed):
    the request is refused where the connection is made, and nothing arrives."""
    site = seed_site(engine, pool_size=1)
    with transaction(engine) as conn:
        dest = outbox_repo.add_destination(
            conn,
            {
                "account_id": site.account_id,
                "kind": "webhook",
                "name": "rebound",
                "url": f"http://localhost:{receiver.port}/callpath",
                "secret": "s",
                "events": "deal.updated",
                "site_id": None,
                "allow_private": False,
                "config": {},
                "created_at": time.time(),
            },
        )
    clock = Clock(time.time())
    receiver.clock = clock
    _event(engine, site, clock())
    worker = _deliverer(engine, clock, client)
    worker.round()
    worker.close()
    assert receiver.events == [] and receiver.refused == []
    with transaction(engine) as conn:
        (row,) = destinations.log(conn, site.account_id, dest)
    assert row["state"] == "pending" and "private or local address" in row["last_error"]


def test_an_event_exists_only_if_what_it_reports_was_saved(engine: Engine) -> None:
    site = seed_site(engine, pool_size=1)
    _hook(engine, site, "http://127.0.0.1:9/none", "deal.updated")
    data = deals.DealInput(
        amount="100", site_id=site.site_id, status="won", external_id="A-1", closed_at=time.time()
    )
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        deals.record(conn, site.account_id, data, time.time())
        raise RuntimeError("the request failed after the deal was written")
    with engine.connect() as conn:
        assert conn.execute(select(outbox_events)).all() == []
    with transaction(engine) as conn:
        deals.record(conn, site.account_id, data, time.time())
        deals.record(conn, site.account_id, data, time.time())  # no change: no event
    with engine.connect() as conn:
        rows = conn.execute(select(outbox_events.c.type, outbox_events.c.payload)).all()
    assert [r.type for r in rows] == ["deal.updated"]
    assert rows[0].payload["deal"]["amount"] == "100.00"


def test_destinations_are_scoped_to_their_account(engine: Engine) -> None:
    mine = seed_site(engine, pool_size=1)
    theirs = seed_site(engine, pool_size=1)
    added = _hook(engine, theirs, "http://127.0.0.1:9/none")
    dest = int(added.destination["id"])
    with transaction(engine) as conn:
        assert destinations.listed(conn, mine.account_id) == []
        for act in (
            lambda: destinations.log(conn, mine.account_id, dest),
            lambda: destinations.pause(conn, mine.account_id, dest, time.time()),
            lambda: destinations.remove(conn, mine.account_id, dest),
            lambda: destinations.replay_period(conn, mine.account_id, dest, 0, 1e10, 1.0),
        ):
            with pytest.raises(NotFound):
                act()
        assert "secret" not in destinations.listed(conn, theirs.account_id)[0]


def test_a_deferred_delivery_waits_without_counting_and_holds_up_nothing(
    engine: Engine, receiver: Receiver, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender may answer "not yet" (quiet hours; a check that must wait): the delivery
    is due again then, no attempt or failure is counted, and the destination's later
    deliveries go on."""
    site = seed_site(engine, pool_size=1)
    receiver.secret = _hook(engine, site, receiver.url).secret
    clock = Clock(time.time())
    receiver.clock = clock
    real = senders.SENDERS["webhook"]

    def first_waits(ctx: Any, dest: Any, event: Any, now: float) -> Any:
        if event["subject"] == "wait":
            return http.deferred(now + 600, "quiet hours until 08:00")
        return real(ctx, dest, event, now)

    monkeypatch.setitem(senders.SENDERS, "webhook", first_waits)
    _event(engine, site, clock(), "wait")
    _event(engine, site, clock(), "go")
    worker = _deliverer(engine, clock, client)
    worker.round()
    assert [e["data"] for e in receiver.events] == [{"n": "go"}]
    assert _states(engine) == [("pending", 0), ("delivered", 1)]
    with engine.connect() as conn:
        waiting = conn.execute(
            select(deliveries_table).where(deliveries_table.c.attempts == 0)
        ).one()
        dest = conn.execute(select(deliveries_table.c.destination_id)).scalars().first()
    assert waiting.next_at == pytest.approx(clock() + 600) and "quiet" in waiting.last_error
    with transaction(engine) as conn:
        assert destinations.found(conn, site.account_id, int(dest))["failures"] == 0
    monkeypatch.setitem(senders.SENDERS, "webhook", real)
    clock.advance(601)
    worker.round()
    worker.close()
    assert _states(engine) == [("delivered", 1), ("delivered", 1)]
