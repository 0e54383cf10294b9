"""How an e-mail or Telegram destination is sent one event (`integrations.senders`).

A lead's notice is decided when it is sent, from the lead as it stands then (read again,
not the snapshot queued with the event): a call still ringing is looked at again in 30
seconds; once it ended, a missed call gets the missed notice (or, if only `lead` was
asked for, the new-lead notice says "missed"), any other call the new-lead notice. A
missed caller is then checked again `lost_after` minutes after the call started: still
lost (not reached since: no answered call from or to them, and not marked handled) gets
the lost-caller notice, else nothing (`skipped`). Quiet hours defer whatever falls in
them to their end. What was sent is remembered in the destination's links (`notice`,
`lost` by call id), so an event handled again (a retry, a replay) never sends a notice
twice. Spam and calls out are no notice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from callpath.domain import notify as rules
from callpath.integrations.http import Client, Outcome, deferred, skipped
from callpath.integrations.notify import mail, messages, telegram
from callpath.integrations.notify.messages import Message
from callpath.services.deliveries import PAUSED, Links
from callpath.services.notify import Reads
from callpath.settings import Smtp

NOTICE_LINK = "notice"
LOST_LINK = "lost"


@dataclass(frozen=True, slots=True)
class Channels:
    """What sending a notification needs beyond the HTTP client."""

    smtp: Smtp | None
    telegram_api: str
    reads: Reads


def recipient(destination: Mapping[str, Any]) -> str:
    """The stored address: "mailto:ADDRESS" or "telegram:CHAT"."""
    return str(destination["url"]).split(":", 1)[-1]


def deliver(
    client: Client, channels: Channels, destination: Mapping[str, Any], message: Message
) -> Outcome:
    if destination["kind"] == "email":
        return mail.send(channels.smtp, recipient(destination), message)
    return telegram.send(
        client,
        channels.telegram_api,
        str(destination["secret"]),
        recipient(destination),
        message,
        bool(destination["allow_private"]),
    )


def send(
    client: Client,
    links: Links,
    channels: Channels,
    destination: Mapping[str, Any],
    event: Mapping[str, Any],
    now: float,
) -> Outcome:
    config = rules.Config.of(destination["config"])
    account_id = int(destination["account_id"])
    if config.user_id is not None and not channels.reads.user_active(account_id, config.user_id):
        return skipped("the user it is for is deactivated")
    zone, site = channels.reads.place(
        account_id, destination.get("destination_site_id"), event.get("site_id")
    )
    kind = str(event["type"])
    if kind == rules.TEST:
        return deliver(client, channels, destination, messages.test(str(destination["kind"])))
    quiet = _quiet_end(now, zone, config)
    if kind == rules.DIGEST:
        if quiet is not None:
            return deferred(quiet, f"quiet hours until {messages.when(quiet, zone)}")
        return deliver(client, channels, destination, messages.digest(event["payload"]))
    if kind == PAUSED:  # about the account's own setup: never held back by quiet hours
        return deliver(client, channels, destination, messages.paused(event["payload"]))
    if kind != "lead.created":
        return skipped(f"{kind}: no notice")
    notice = _Lead(client, links, channels, destination, event, config, zone, site)
    return notice.send(now, quiet)


def _quiet_end(now: float, zone: str, config: rules.Config) -> float | None:
    end = rules.quiet_until(datetime.fromtimestamp(now, ZoneInfo(zone)), config.quiet)
    return end.timestamp() if end is not None else None


@dataclass(slots=True)
class _Lead:
    client: Client
    links: Links
    channels: Channels
    destination: Mapping[str, Any]
    event: Mapping[str, Any]
    config: rules.Config
    zone: str
    site: str | None

    @property
    def dest_id(self) -> int:
        return int(self.destination.get("destination_id") or self.destination["id"])

    def send(self, now: float, quiet: float | None) -> Outcome:
        payload = self.event["payload"] or {}
        call_id = str((payload.get("lead") or {}).get("call_id") or self.event["subject"])
        account_id = int(self.destination["account_id"])
        facts = self.channels.reads.lead(account_id, call_id)
        if facts is None or facts["kind"] != "call":
            return skipped("no lead to notify of")
        if facts["spam"]:
            return skipped("spam: no notice")
        started = float(facts["started_at"])
        if facts["state"] != "ended":
            if now - started < rules.RING_GIVE_UP:
                return deferred(now + rules.RING_WAIT, "the call has not ended yet")
            return skipped("the call never ended")
        done = {kind for kind, _remote in self.links.of_call(self.dest_id, call_id)}
        on = self.config.on
        first = "missed" if facts["missed"] and "missed" in on else "lead" if "lead" in on else None
        sent: Outcome | None = None
        if first is not None and NOTICE_LINK not in done:
            if quiet is not None:
                return deferred(quiet, f"quiet hours until {messages.when(quiet, self.zone)}")
            build = messages.missed if first == "missed" else messages.new_lead
            sent = deliver(
                self.client,
                self.channels,
                self.destination,
                build(payload, facts, self.zone, self.site),
            )
            if not sent.ok:
                return sent
            self.links.remember(account_id, self.dest_id, NOTICE_LINK, call_id, call_id, now)
        if "lost" in on and facts["missed"] and LOST_LINK not in done:
            return self._lost(payload, facts, call_id, now, quiet, sent)
        return sent or skipped("nothing to notify of" if first is None else "notified before")

    def _lost(
        self,
        payload: Mapping[str, Any],
        facts: Mapping[str, Any],
        call_id: str,
        now: float,
        quiet: float | None,
        sent: Outcome | None,
    ) -> Outcome:
        started = float(facts["started_at"])
        due = started + self.config.lost_after * 60.0
        if now < due:
            before = "missed-call notice sent; " if sent is not None else ""
            return deferred(
                due,
                f"{before}checks at {messages.when(due, self.zone)} whether they were called back",
            )
        why_not = self._not_lost(facts, started, now)
        if why_not is not None:
            return sent or skipped(why_not)
        if quiet is not None:
            return deferred(quiet, f"quiet hours until {messages.when(quiet, self.zone)}")
        message = messages.lost(payload, facts, self.config.lost_after, self.zone, self.site)
        outcome = deliver(self.client, self.channels, self.destination, message)
        if outcome.ok:
            account_id = int(self.destination["account_id"])
            self.links.remember(account_id, self.dest_id, LOST_LINK, call_id, call_id, now)
        return outcome

    def _not_lost(self, facts: Mapping[str, Any], started: float, now: float) -> str | None:
        """Why the missed caller is no lost caller now, or None."""
        if facts["handled_at"] is not None:
            return "the caller was marked handled"
        if not facts["lost"]:
            return "the caller got through or was called back"
        if not facts["caller"]:
            return "a hidden number: nobody to call back"
        if self.channels.reads.reached(int(facts["site_id"]), str(facts["caller"]), started, now):
            return "the caller got through or was called back"
        return None
