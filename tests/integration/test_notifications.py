"""Notifications by e-mail and Telegram, on a real database, a real SMTP server (aiosmtpd
on loopback) and a fake Telegram Bot API, driven by the tests' clock through the delivery
worker's rounds: a new lead, a missed call, a lost caller (and one called back, one who
got through, one marked handled), quiet hours, the daily digest once a day with the
overview's numbers, a mail server that was down, Telegram's refusals and flood limit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from callpath import settings as settings_mod
from callpath.cli import app as cli_app
from callpath.domain import outbox as outbox_rules
from callpath.integrations import destinations
from callpath.integrations.destinations import Notification
from callpath.integrations.http import Client
from callpath.integrations.notify import digest
from callpath.services import accounts, callbacks, leads, notify, outbox
from callpath.services.auth import Principal
from callpath.services.site_input import SetupError
from callpath.storage.db import transaction
from callpath.storage.tables import deliveries, delivery_attempts, outbox_events
from callpath.workers.delivery import Deliverer
from tests.fakes.mail_server import MailServer
from tests.fakes.telegram import TelegramApi
from tests.helpers import Clock, Hook, Seeded, api_headers, free_port, iso

CALLER = "+79161234567"
SHOWN = "+7 916 123-45-67"
TOKEN = "123456:" + "A" * 35
CHAT = "123456789"
FIRST = 30.0
ZONE = "Europe/Moscow"  # the seeded site's


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    server = MailServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def telegram() -> Iterator[TelegramApi]:
    api = TelegramApi(free_port(), TOKEN).start()
    yield api
    api.stop()


@pytest.fixture
def http() -> Iterator[Client]:
    made = Client()
    yield made
    made.close()


def _settings(database_url: str, smtp: MailServer | None, telegram: TelegramApi) -> Any:
    env = {"CALLPATH_DATABASE_URL": database_url, "CALLPATH_TELEGRAM_API": telegram.url}
    if smtp is not None:
        env.update(
            CALLPATH_SMTP_HOST="127.0.0.1",
            CALLPATH_SMTP_PORT=str(smtp.port),
            CALLPATH_SMTP_FROM="callpath@track.example",
            CALLPATH_SMTP_TLS="none",
        )
    return settings_mod.load(env)


class World:
    """The site, its PBX hook, the clock, and a delivery worker on them."""

    def __init__(
        self,
        engine: Engine,
        client: TestClient,
        site: Seeded,
        hook: Hook,
        settings: Any,
        http: Client,
        now: float,
    ) -> None:
        self.engine, self.client, self.site, self.hook = engine, client, site, hook
        self.clock = Clock(now)
        self.worker = Deliverer(
            engine, self.clock, http, first_retry=FIRST, threads=2, settings=settings
        )

    def email(self, on: str, to: str = "sales@shop.example", **kw: Any) -> int:
        return self._add(Notification("email", on, to, **kw))

    def telegram(self, on: str, chat: str = CHAT, token: str = TOKEN, **kw: Any) -> int:
        return self._add(Notification("telegram", on, chat, token, allow_private=True, **kw))

    def _add(self, given: Notification) -> int:
        with transaction(self.engine) as conn:
            row = destinations.add_notification(
                conn, self.site.account_id, given, self.clock(), True
            )
        return int(row["id"])

    def call(self, pbx_id: str, at: float, talk: float = 0, length: float = 40) -> str:
        base = {"call_id": pbx_id, "caller": CALLER, "called": self.site.default}
        started = self.hook.post(self.client, {**base, "event": "started", "at": iso(at)})
        assert started.status_code == 200, started.text
        status = "answered" if talk else "missed"
        ended = {**base, "event": "ended", "at": iso(at + length), "talk": talk, "status": status}
        assert self.hook.post(self.client, ended).status_code == 200
        return str(started.json()["call"])

    def call_back(self, pbx_id: str, at: float) -> None:
        base = {"call_id": pbx_id, "caller": self.site.default, "called": CALLER}
        out = {**base, "direction": "outbound"}
        assert self.hook.post(self.client, {**out, "event": "started", "at": iso(at)}).is_success
        ended = {**out, "event": "ended", "at": iso(at + 60), "talk": 50, "status": "answered"}
        assert self.hook.post(self.client, ended).is_success

    def classify(self) -> None:
        """What the apply process does between its rounds: the new calls' leads (and their
        lead.created events, queued at the clock's time). Once: a call saved after the
        clock's time stays due (its lead looks older than its last change), harmlessly."""
        leads.classify_due(self.engine, self.clock)

    def rounds(self) -> None:
        while self.worker.round():
            pass

    def deliveries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(deliveries).order_by(deliveries.c.id)
            return [dict(r._mapping) for r in conn.execute(query)]

    def attempts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            query = select(delivery_attempts).order_by(delivery_attempts.c.id)
            return [dict(r._mapping) for r in conn.execute(query)]


@pytest.fixture
def world(
    engine: Engine,
    client: TestClient,
    site: Seeded,
    hook: Hook,
    database_url: str,
    smtp: MailServer,
    telegram: TelegramApi,
    http: Client,
) -> Iterator[World]:
    made = World(
        engine, client, site, hook, _settings(database_url, smtp, telegram), http, time.time()
    )
    yield made
    made.worker.close()


def test_a_new_lead_arrives_by_email_and_telegram(
    world: World, smtp: MailServer, telegram: TelegramApi
) -> None:
    world.email("lead")
    world.telegram("lead")
    t0 = world.clock() - 120
    world.call("p1", t0, talk=45)
    world.classify()
    world.rounds()
    assert len(smtp.mails) == 1 and len(telegram.sent) == 1
    mail = smtp.mails[0]
    assert mail["To"] == "sales@shop.example" and mail["From"] == "callpath@track.example"
    assert smtp.envelopes[0] == ("callpath@track.example", ["sales@shop.example"])
    subject = str(mail["Subject"])
    assert subject.startswith(f"New lead: call from {SHOWN} via ")
    assert subject.endswith(", first-time, target")
    body = mail.get_content()
    assert "Talk: 45 s" in body and "Site: Test site" in body
    message = telegram.sent[0]
    assert message["chat_id"] == int(CHAT) and "parse_mode" not in message
    assert message["text"].startswith(subject)
    world.classify()
    world.clock.advance(3600)
    world.rounds()  # delivered: never again
    assert len(smtp.mails) == 1 and len(telegram.sent) == 1
    assert [d["state"] for d in world.deliveries()] == ["delivered", "delivered"]


def test_a_lead_notice_waits_for_the_call_to_end(world: World, smtp: MailServer) -> None:
    world.email("lead,missed")
    t0 = world.clock() - 60
    base = {"call_id": "r1", "caller": CALLER, "called": world.site.default}
    assert world.hook.post(world.client, {**base, "event": "started", "at": iso(t0)}).is_success
    world.classify()
    world.rounds()
    assert smtp.mails == []  # still ringing: looked at again in 30 s
    (delivery,) = world.deliveries()
    assert delivery["state"] == "pending" and delivery["next_at"] == world.clock() + 30
    ended = {**base, "event": "ended", "at": iso(t0 + 50), "status": "missed", "talk": 0}
    assert world.hook.post(world.client, ended).is_success
    world.classify()
    world.clock.advance(31)
    world.rounds()
    assert smtp.subjects() == [f"Missed call from {SHOWN}"]
    assert world.attempts()[0]["ok"] is True


@pytest.mark.parametrize("then", ["nobody", "called back", "got through", "handled"])
def test_a_missed_caller_is_notified_lost_only_if_nobody_reached_them(
    world: World, smtp: MailServer, telegram: TelegramApi, then: str
) -> None:
    world.email("missed,lost", lost_after=15)
    world.telegram("lost", lost_after=15)
    t0 = world.clock() - 60
    missed = world.call("m1", t0, length=30)
    world.classify()
    world.rounds()
    assert smtp.subjects() == [f"Missed call from {SHOWN}"]  # at once
    assert telegram.sent == []  # lost only: nothing yet
    states = world.deliveries()
    assert [d["next_at"] for d in states] == pytest.approx([t0 + 900, t0 + 900])  # 15 min
    assert "missed-call notice sent" in str(states[0]["last_error"])
    world.clock.advance(300)
    if then == "called back":
        world.call_back("o1", t0 + 600)
    elif then == "got through":
        world.call("m2", t0 + 400, talk=60)
    elif then == "handled":
        with transaction(world.engine) as conn:
            email = "operator@shop.example"
            user = accounts.create_user(
                conn, world.site.account_id, email, "pw-long-enough", "operator", 0.0
            )
            who = Principal(user, world.site.account_id, email, "operator")
            callbacks.mark_handled(conn, who, missed, "called from a mobile", world.clock())
    world.classify()
    world.rounds()
    world.clock.advance(600)  # t0 + 960: past the 15 minutes
    world.rounds()
    lost = f"Lost caller: {SHOWN} not called back within 15 min"
    if then == "nobody":
        assert smtp.subjects() == [f"Missed call from {SHOWN}", lost]
        assert [t.splitlines()[0] for t in telegram.texts()] == [lost]
    else:
        assert smtp.subjects() == [f"Missed call from {SHOWN}"]
        assert telegram.sent == []
    assert {d["state"] for d in world.deliveries()} == {"delivered"}
    world.clock.advance(86_400)
    world.rounds()
    assert len(smtp.mails) == (2 if then == "nobody" else 1)  # never twice


def test_quiet_hours_defer_to_their_end_then_deliver(
    world: World, smtp: MailServer, telegram: TelegramApi
) -> None:
    local = datetime.fromtimestamp(world.clock(), ZoneInfo(ZONE))
    start, end = local - timedelta(minutes=30), local + timedelta(hours=2)
    quiet = f"{start:%H:%M}-{end:%H:%M}"
    world.email("lead", quiet=quiet)
    world.telegram("lead")  # no quiet hours: at once
    world.call("q1", world.clock() - 100, talk=45)
    world.classify()
    world.rounds()
    assert smtp.mails == [] and len(telegram.sent) == 1
    waiting = world.deliveries()[0]
    ends = end.replace(second=0, microsecond=0).timestamp()
    assert waiting["state"] == "pending" and waiting["next_at"] == ends
    assert "quiet hours until" in str(waiting["last_error"]) and waiting["attempts"] == 0
    world.clock.t = ends - 1
    world.rounds()
    assert smtp.mails == []
    world.clock.t = ends
    world.rounds()
    assert len(smtp.mails) == 1 and str(smtp.mails[0]["Subject"]).startswith("New lead")


def test_the_daily_digest_comes_once_a_day_with_the_overviews_numbers(
    world: World, smtp: MailServer, engine: Engine
) -> None:
    tz = ZoneInfo(ZONE)
    day = (datetime.now(tz) - timedelta(days=2)).date()
    at = datetime(day.year, day.month, day.day, 10, 0, tzinfo=tz).timestamp()
    answered = world.call("d1", at, talk=45)
    world.call("d2", at + 3600, talk=60, length=80)
    world.call("d3", at + 3 * 3600, length=20)  # missed, nobody called back: lost
    headers = api_headers(engine, world.site)
    deal = {"call_id": answered, "amount": "2500", "status": "won"}
    assert world.client.post("/api/v1/deals", json=deal, headers=headers).status_code == 201
    world.classify()
    world.email("digest_daily")
    morning = datetime(day.year, day.month, day.day, 8, 30, tzinfo=tz) + timedelta(days=1)
    world.clock.t = morning.timestamp()
    world.rounds()
    assert smtp.mails == []  # before 09:00
    world.clock.advance(3600)  # 09:30
    world.rounds()
    assert smtp.subjects() == [f"Daily digest: {day.isoformat()}"]
    body = smtp.mails[0].get_content().replace("\r\n", "\n")
    for line in ("Calls: 3", "Target calls: 2", "Missed: 1", "Lost: 1", "Revenue: 2 500.00 RUB"):
        assert f"  {line}\n" in body, body
    for _ in range(3):  # later that day: not again
        world.clock.advance(3 * 3600)
        world.rounds()
    assert len(smtp.mails) == 1
    with engine.connect() as conn:
        events = conn.execute(select(outbox_events.c.subject)).scalars().all()
    assert sorted(e for e in events if e.startswith("daily:")) == [f"daily:{day.isoformat()}"]
    world.clock.t = (morning + timedelta(days=1, hours=1)).timestamp()
    world.rounds()
    assert smtp.subjects()[1] == f"Daily digest: {day + timedelta(days=1)}"
    assert "  Calls: 0\r\n" in smtp.mails[1].get_content()


def test_a_days_digest_is_queued_once_however_many_try(world: World, engine: Engine) -> None:
    dest = world.email("digest_daily")
    row = {"id": dest, "account_id": world.site.account_id, "site_id": None}
    body = {"type": "notify.digest", "kind": "daily", "from": "x", "to": "x", "sites": []}
    first = notify.queue_digest(engine, row, "daily:2030-01-01", body, world.clock())
    again = notify.queue_digest(engine, row, "daily:2030-01-01", body, world.clock())
    assert first is not None and again is None
    assert digest.queue_due(engine, world.clock()) <= 1


def test_a_mail_server_that_is_down_or_busy_is_retried_and_a_refusal_is_not(
    world: World, smtp: MailServer
) -> None:
    world.email("lead")
    smtp.stop()
    world.call("s1", world.clock() - 100, talk=45)
    world.classify()
    world.rounds()
    (waiting,) = world.deliveries()
    assert waiting["state"] == "pending" and waiting["attempts"] == 1
    assert world.attempts()[0]["status"] is None and "HTTP" not in str(waiting["last_error"])
    smtp.start()
    smtp.busy = 1  # then "451 try again later"
    world.clock.advance(FIRST * 1.2)
    world.rounds()
    assert world.deliveries()[0]["attempts"] == 2 and smtp.mails == []
    assert "SMTP 451" in str(world.deliveries()[0]["last_error"])
    world.clock.advance(FIRST * 2.4)
    world.rounds()
    assert world.deliveries()[0]["state"] == "delivered" and len(smtp.mails) == 1
    smtp.refuse.add("gone@shop.example")
    world.email("lead", to="gone@shop.example")
    world.call("s2", world.clock() - 50, talk=45)
    world.classify()
    world.rounds()
    refused = [d for d in world.deliveries() if d["state"] == "failed"]
    assert len(refused) == 1 and str(refused[0]["last_error"]).startswith("SMTP 550")


def test_telegrams_refusals_fail_and_its_flood_limit_is_honoured(
    world: World, telegram: TelegramApi
) -> None:
    wrong_token = world.telegram("lead", token="999:" + "B" * 35)
    unknown_chat = world.telegram("lead", chat="555")
    world.telegram("lead")
    telegram.flood = 1
    world.call("t1", world.clock() - 100, talk=45)
    world.classify()
    world.rounds()
    by_dest = {d["destination_id"]: d for d in world.deliveries()}
    assert by_dest[wrong_token]["state"] == "failed"
    assert "Unauthorized" in str(by_dest[wrong_token]["last_error"])
    assert TOKEN not in str(by_dest[wrong_token]["last_error"])
    assert by_dest[unknown_chat]["state"] == "failed"
    assert "chat not found" in str(by_dest[unknown_chat]["last_error"])
    flooded = [d for d in by_dest.values() if d["state"] == "pending"]
    assert len(flooded) == 1 and flooded[0]["next_at"] == pytest.approx(world.clock() + 120)
    world.clock.advance(100)
    world.rounds()
    assert telegram.sent == []  # Telegram asked for 120 s
    world.clock.advance(21)
    world.rounds()
    assert len(telegram.sent) == 1


def test_email_needs_a_mail_server(
    engine: Engine,
    client: TestClient,
    site: Seeded,
    hook: Hook,
    database_url: str,
    telegram: TelegramApi,
    http: Client,
) -> None:
    with transaction(engine) as conn, pytest.raises(SetupError, match="CALLPATH_SMTP_HOST"):
        destinations.add_notification(
            conn, site.account_id, Notification("email", "lead", "a@shop.example"), 0.0, False
        )
    settings = _settings(database_url, None, telegram)
    world = World(engine, client, site, hook, settings, http, time.time())
    world.email("lead")  # added while a mail server was configured, say
    world.call("n1", world.clock() - 100, talk=45)
    world.classify()
    world.rounds()
    world.worker.close()
    (failed,) = world.deliveries()
    assert failed["state"] == "failed" and "CALLPATH_SMTP_HOST" in str(failed["last_error"])


def test_the_command_adds_lists_tests_and_removes(
    world: World, database_url: str, smtp: MailServer, telegram: TelegramApi
) -> None:
    env = {
        "CALLPATH_DATABASE_URL": database_url,
        "CALLPATH_TELEGRAM_API": telegram.url,
        "CALLPATH_SMTP_HOST": "127.0.0.1",
        "CALLPATH_SMTP_PORT": str(smtp.port),
        "CALLPATH_SMTP_FROM": "callpath@track.example",
        "CALLPATH_SMTP_TLS": "none",
    }
    runner = CliRunner()
    account = str(world.site.account_id)

    def run(*args: str) -> Any:
        return runner.invoke(cli_app, list(args), env=env)

    added = run("notify", "add", "--account", account, "--email", "boss@shop.example",
                "--on", "missed,lost,digest_daily", "--site", world.site.key,
                "--quiet", "22:00-08:00", "--lost-after", "20")  # fmt: skip
    assert added.exit_code == 0, added.output
    mail_id = added.output.split()[1]
    added = run("notify", "add", "--account", account, "--telegram-chat", CHAT,
                "--telegram-token", TOKEN, "--on", "lead", "--allow-private")  # fmt: skip
    assert added.exit_code == 0, added.output
    chat_id = added.output.split()[1]
    listed = run("notify", "list", "--account", account)
    assert listed.exit_code == 0, listed.output
    assert "e-mail to boss@shop.example" in listed.output and "quiet 22:00-08:00" in listed.output
    assert "lost after 20 min" in listed.output and f"Telegram chat {CHAT}" in listed.output
    everything = run("webhook", "list", "--account", account).output  # every destination
    assert "\temail\t" in everything and "\ttelegram\t" in everything
    for dest in (mail_id, chat_id):
        tested = run("notify", "test", dest)
        assert tested.exit_code == 0, tested.output
    assert smtp.subjects() == ["callpath: test notification"]
    assert telegram.texts()[0].startswith("callpath: test notification")
    bad = run("notify", "add", "--account", account, "--email", "x@shop.example", "--on", "often")
    assert bad.exit_code != 0 and "unknown notice 'often'" in bad.output
    bad = run("notify", "add", "--account", account, "--email", "x@shop.example",
              "--on", "lead", "--quiet", "25:00-08:00")  # fmt: skip
    assert bad.exit_code != 0 and "HH:MM" in bad.output
    assert run("notify", "remove", mail_id).exit_code == 0
    assert "boss@" not in run("notify", "list", "--account", account).output
    assert run("notify", "test", mail_id).exit_code != 0


def test_a_destination_paused_for_failing_is_told_to_the_accounts_notifications(
    world: World, telegram: TelegramApi
) -> None:
    """A webhook that failed every attempt for a day is paused, and the account's Telegram
    (quiet hours or not) hears which one and how to resume it."""
    world.telegram("lead", quiet="00:00-23:59")
    with transaction(world.engine) as conn:
        hook = destinations.add_webhook(
            conn, world.site.account_id, "http://127.0.0.1:9/down", "deal.updated",
            world.clock(), name="Office CRM", allow_private=True,
        ).destination["id"]  # fmt: skip
    for n in range(outbox_rules.PAUSE_AFTER_FAILURES + 2):
        with transaction(world.engine) as conn:
            outbox.emit(
                conn, world.site.account_id, world.site.site_id, "deal.updated", f"d{n}",
                {"n": n}, world.clock(),
            )  # fmt: skip
        world.rounds()
        world.clock.advance(outbox_rules.PAUSE_AFTER_SECONDS / outbox_rules.PAUSE_AFTER_FAILURES)
    with transaction(world.engine) as conn:
        assert destinations.found(conn, world.site.account_id, int(hook))["paused_at"]
    (notice,) = telegram.texts()
    assert "Office CRM paused" in notice and f"callpath webhook resume {hook}" in notice
    assert "Connection refused" in notice or "ConnectError" in notice
