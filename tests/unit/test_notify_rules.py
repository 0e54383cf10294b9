"""Notification rules and settings, pure: what may be asked for, quiet hours (also across
midnight and a daylight-saving change), when digests are due, the mail server's settings
and how Telegram's and a mail server's answers are read."""

from __future__ import annotations

import json
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from callpath.domain import notify as rules
from callpath.integrations.http import Outcome
from callpath.integrations.notify import mail, messages, telegram
from callpath.settings import SettingsError, load

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def test_notices_are_checked_and_put_in_order() -> None:
    assert rules.notices("lead, missed") == ("missed", "lead")
    with pytest.raises(rules.BadNotify, match="unknown notice 'often'"):
        rules.notices("lead,often")
    with pytest.raises(rules.BadNotify, match="at least one"):
        rules.notices(" , ")


@pytest.mark.parametrize(
    ("text", "ok"),
    [("22:00-08:00", True), ("9:00-18:30", True), ("24:00-08:00", False), ("22:00", False),
     ("08:00-08:00", False), ("aa-bb", False)],
)  # fmt: skip
def test_quiet_hours_are_read(text: str, ok: bool) -> None:
    if ok:
        assert rules.quiet_hours(text)
    else:
        with pytest.raises(rules.BadNotify):
            rules.quiet_hours(text)


def test_quiet_hours_across_midnight_end_the_next_morning() -> None:
    quiet = rules.quiet_hours("22:00-08:00")
    late = datetime(2026, 3, 10, 23, 15, tzinfo=MSK)
    assert rules.quiet_until(late, quiet) == datetime(2026, 3, 11, 8, 0, tzinfo=MSK)
    early = datetime(2026, 3, 11, 7, 59, tzinfo=MSK)
    assert rules.quiet_until(early, quiet) == datetime(2026, 3, 11, 8, 0, tzinfo=MSK)
    assert rules.quiet_until(datetime(2026, 3, 11, 8, 0, tzinfo=MSK), quiet) is None
    assert rules.quiet_until(datetime(2026, 3, 11, 21, 59, tzinfo=MSK), quiet) is None
    assert rules.quiet_until(late, None) is None
    day = rules.quiet_hours("12:00-14:00")
    assert rules.quiet_until(datetime(2026, 3, 11, 13, 0, tzinfo=MSK), day) == datetime(
        2026, 3, 11, 14, 0, tzinfo=MSK
    )


def test_quiet_hours_end_at_the_local_hour_across_a_clock_change() -> None:
    """Berlin moves its clocks on 2026-03-29: the night is an hour shorter, and the quiet
    hours still end at 08:00 local."""
    quiet = rules.quiet_hours("22:00-08:00")
    end = rules.quiet_until(datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN), quiet)
    assert end is not None
    assert end.timestamp() - datetime(2026, 3, 28, 23, 0, tzinfo=BERLIN).timestamp() == 8 * 3600


def test_digests_are_due_from_their_hour_weekly_on_mondays() -> None:
    config = rules.Config(("digest_daily", "digest_weekly"), digest_at=time(9, 0))
    monday = datetime(2026, 12, 7, 8, 59, tzinfo=MSK)
    assert rules.digests_due(config, monday) == []
    due = rules.digests_due(config, monday.replace(hour=9, minute=0))
    assert [(d.kind, str(d.first), str(d.last), d.mark) for d in due] == [
        ("daily", "2026-12-06", "2026-12-06", "daily:2026-12-06"),
        ("weekly", "2026-11-30", "2026-12-06", "weekly:2026-12-06"),
    ]
    tuesday = datetime(2026, 12, 8, 15, 0, tzinfo=MSK)
    assert [d.kind for d in rules.digests_due(config, tuesday)] == ["daily"]
    assert rules.digests_due(rules.Config(("lead",)), tuesday) == []


def test_a_stored_config_reads_back() -> None:
    config = rules.Config(("missed", "lost"), 20, rules.quiet_hours("22:00-07:30"), time(8), 5)
    assert rules.Config.of(json.loads(json.dumps(config.stored()))) == config
    assert rules.Config.of({}) == rules.Config(())


@pytest.mark.parametrize("chat", ["123456789", "-1001234567890", "@my_channel"])
def test_telegram_chats_and_tokens(chat: str) -> None:
    assert rules.chat_id(f" {chat} ") == chat
    assert rules.bot_token("123456:" + "a" * 35)
    for bad in ("12ab", "", "@no"):
        with pytest.raises(rules.BadNotify):
            rules.chat_id(bad)
    with pytest.raises(rules.BadNotify, match="BotFather"):
        rules.bot_token("not-a-token")


def test_email_addresses() -> None:
    assert rules.email_address(" sales@shop.example ") == "sales@shop.example"
    for bad in ("sales", "a@b", "a b@shop.example", "x@shop.example\r\nBcc: y@z.example"):
        with pytest.raises(rules.BadNotify):
            rules.email_address(bad)


def test_smtp_settings_fail_loudly() -> None:
    assert load({}).smtp is None
    smtp = load({"CALLPATH_SMTP_HOST": "mail.example", "CALLPATH_SMTP_FROM": "c@shop.example"}).smtp
    assert smtp is not None and (smtp.port, smtp.security) == (587, "starttls")
    ssl = {"CALLPATH_SMTP_HOST": "mail.example", "CALLPATH_SMTP_FROM": "c@x.example",
           "CALLPATH_SMTP_TLS": "ssl", "CALLPATH_SMTP_USER": "u", "CALLPATH_SMTP_PASSWORD": "p"}  # fmt: skip
    made = load(ssl).smtp
    assert made is not None and (made.port, made.user, made.password) == (465, "u", "p")
    for env, why in (
        ({"CALLPATH_SMTP_PORT": "25"}, "CALLPATH_SMTP_HOST is not"),
        ({"CALLPATH_SMTP_HOST": "mail.example"}, "CALLPATH_SMTP_FROM"),
        ({**ssl, "CALLPATH_SMTP_TLS": "maybe"}, "CALLPATH_SMTP_TLS"),
        ({**ssl, "CALLPATH_SMTP_PORT": "70000"}, "CALLPATH_SMTP_PORT"),
        ({**ssl, "CALLPATH_SMTP_PASSWORD": ""}, "give both or neither"),
        ({"CALLPATH_TELEGRAM_API": "ftp://x"}, "CALLPATH_TELEGRAM_API"),
    ):
        with pytest.raises(SettingsError, match=why):
            load(env)
    assert load({}).telegram_api == "https://api.telegram.org"


class _Answer:
    """The HTTP client as `telegram.send` sees it: one canned outcome."""

    def __init__(
        self, status: int | None, body: dict[str, object] | None, excerpt: str = ""
    ) -> None:
        raw = json.dumps(body).encode() if body is not None else b""
        self.outcome = Outcome(status, 5, excerpt or raw.decode(), None, raw)
        self.url = ""

    def send(self, request: object) -> Outcome:
        self.url = str(getattr(request, "url", ""))
        return self.outcome


def _telegram(answer: _Answer) -> Outcome:
    message = messages.Message("Subject", "Subject\nbody")
    return telegram.send(answer, "https://api.telegram.org", "1:" + "t" * 30, "42", message, False)  # type: ignore[arg-type]


def test_telegrams_answers_are_read() -> None:
    assert _telegram(_Answer(200, {"ok": True, "result": {}})).ok
    flood = {"ok": False, "error_code": 429, "parameters": {"retry_after": 37}}
    limited = _telegram(_Answer(429, flood))
    assert (limited.status, limited.retry_after) == (429, 37.0)
    blocked = _telegram(_Answer(403, {"ok": False, "error_code": 403, "description": "blocked"}))
    assert blocked.status == 403
    odd = _telegram(_Answer(200, None, "<html>a proxy's page</html>"))
    assert odd.status == 502  # not the Bot API's answer: tried again
    leaked = _telegram(_Answer(None, None, "ConnectError: https://x/bot1:" + "t" * 30 + "/send"))
    assert leaked.status is None and "t" * 30 not in leaked.excerpt


def test_without_a_mail_server_an_email_fails_for_good_saying_why() -> None:
    outcome = mail.send(None, "a@shop.example", messages.test("email"))
    assert outcome.status == mail.PERMANENT and "CALLPATH_SMTP_HOST" in outcome.excerpt


def test_digest_text() -> None:
    text = messages.digest(
        {"kind": "weekly", "from": "2026-11-30", "to": "2026-12-06",
         "sites": [{"name": "Shop", "currency": "RUB", "calls": 1234.0, "target": 2.5,
                    "missed": 0.0, "lost": 0, "leads": 3.0, "revenue": 125000.5, "cost": None}]}
    )  # fmt: skip
    assert text.subject == "Weekly digest: 2026-11-30 to 2026-12-06"
    assert "  Calls: 1 234\n" in text.text and "  Target calls: 2.5\n" in text.text
    assert "  Revenue: 125 000.50 RUB\n" in text.text and "  Spend: —\n" in text.text
