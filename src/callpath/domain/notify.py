"""Notifications by e-mail and Telegram (pure rules): what a recipient asked to be told,
its quiet hours, when a lost caller is checked, when a digest is due.

A notification destination is an outbox destination of kind `email` or `telegram`
taking `lead.created`; its `config` holds what is decided here:

- `on`: any of `missed` (a missed call, when it ends), `lost` (a missed caller nobody
  called back and who did not get through within `lost_after` minutes), `lead` (every
  new lead, when its call ends), `digest_daily` (yesterday's figures each morning),
  `digest_weekly` (the last seven days' on Mondays);
- `quiet`: local "HH:MM-HH:MM" (may span midnight) when nothing is sent: what falls in it
  waits for its end, it is never dropped;
- `digest_at`: the local time digests are sent (09:00);
- `user_id`: the user they are for (None: the site's or account's people at large).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

KINDS = ("email", "telegram")
NOTICES = ("missed", "lost", "lead", "digest_daily", "digest_weekly")
EVENTS = "lead.created"  # what a notification destination takes from the outbox
DIGEST = "notify.digest"  # an event queued for one destination only
TEST = "notify.test"  # never queued: `callpath notify test` sends it at once
LOST_AFTER = 15  # minutes
LOST_AFTER_MAX = 24 * 60
DIGEST_AT = "09:00"
RING_WAIT = 30.0  # seconds between looks at a call still ringing
RING_GIVE_UP = 4 * 3_600.0  # a call not ended after this long is no notice
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250})\.[A-Za-z]{2,63}$")
_CHAT = re.compile(r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")


class BadNotify(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Config:
    on: tuple[str, ...]
    lost_after: int = LOST_AFTER
    quiet: tuple[time, time] | None = None
    digest_at: time = time(9, 0)
    user_id: int | None = None

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> Config:
        """A destination's stored config (unknown keys ignored)."""
        stored = stored or {}
        quiet = stored.get("quiet")
        return cls(
            tuple(n for n in NOTICES if n in (stored.get("on") or ())),
            int(stored.get("lost_after") or LOST_AFTER),
            quiet_hours(quiet) if quiet else None,
            clock(str(stored.get("digest_at") or DIGEST_AT)),
            int(stored["user_id"]) if stored.get("user_id") is not None else None,
        )

    def stored(self) -> dict[str, Any]:
        return {
            "on": list(self.on),
            "lost_after": self.lost_after,
            "quiet": _quiet_text(self.quiet),
            "digest_at": self.digest_at.strftime("%H:%M"),
            "user_id": self.user_id,
        }


def notices(text: str | Iterable[str]) -> tuple[str, ...]:
    """The notices named (comma-separated or a list), checked, in canonical order."""
    names = text.split(",") if isinstance(text, str) else list(text)
    wanted = {n.strip().lower() for n in names if n.strip()}
    unknown = sorted(wanted - set(NOTICES))
    if unknown:
        raise BadNotify(f"unknown notice {unknown[0][:40]!r}; known: " + ", ".join(NOTICES))
    if not wanted:
        raise BadNotify("name at least one of " + ", ".join(NOTICES))
    return tuple(n for n in NOTICES if n in wanted)


def clock(text: str) -> time:
    found = _CLOCK.match(text.strip())
    if found is None:
        raise BadNotify(f"{text[:20]!r}: a local time as HH:MM, e.g. 09:00")
    return time(int(found.group(1)), int(found.group(2)))


def quiet_hours(text: str) -> tuple[time, time]:
    """ "22:00-08:00" → (22:00, 08:00); the end is not quiet any more."""
    start, sep, end = text.partition("-")
    if not sep:
        raise BadNotify(f"quiet hours {text[:20]!r}: give them as HH:MM-HH:MM, e.g. 22:00-08:00")
    pair = clock(start), clock(end)
    if pair[0] == pair[1]:
        raise BadNotify("quiet hours: the start and the end must differ")
    return pair


def _quiet_text(quiet: tuple[time, time] | None) -> str | None:
    if quiet is None:
        return None
    return f"{quiet[0].strftime('%H:%M')}-{quiet[1].strftime('%H:%M')}"


def lost_after(minutes: int) -> int:
    if isinstance(minutes, bool) or not 1 <= minutes <= LOST_AFTER_MAX:
        raise BadNotify(f"lost after: a whole number of minutes, 1..{LOST_AFTER_MAX}")
    return minutes


def email_address(text: str) -> str:
    address = (text or "").strip()
    if not _EMAIL.match(address):
        raise BadNotify(f"{address[:80]!r} is not an e-mail address")
    return address


def chat_id(text: str) -> str:
    """A Telegram chat: a number (groups are negative) or a channel's @name."""
    chat = (text or "").strip()
    if not _CHAT.match(chat):
        raise BadNotify(
            f"{chat[:40]!r} is not a Telegram chat id (a number such as 123456789 or "
            "-1001234567890, or a channel's @name)"
        )
    return chat


def bot_token(text: str) -> str:
    token = (text or "").strip()
    if not _TOKEN.match(token):
        raise BadNotify("the bot token is the 123456789:ABC… string BotFather gave")
    return token


def quiet_until(local: datetime, quiet: tuple[time, time] | None) -> datetime | None:
    """The end of the quiet hours `local` (an aware local time) falls in, or None."""
    if quiet is None:
        return None
    start, end = quiet
    now = local.timetz().replace(tzinfo=None)
    day = local.date()
    if start < end:
        inside = start <= now < end
        end_day = day
    else:  # spans midnight: 22:00-08:00
        inside = now >= start or now < end
        end_day = day + timedelta(days=1) if now >= start else day
    if not inside:
        return None
    assert local.tzinfo is not None
    return datetime.combine(end_day, end, local.tzinfo)


@dataclass(frozen=True, slots=True)
class Digest:
    kind: str  # daily | weekly
    first: date
    last: date

    @property
    def mark(self) -> str:
        """What makes it once: one a day per kind (the day it is sent for)."""
        return f"{self.kind}:{self.last.isoformat()}"


def digests_due(config: Config, local: datetime) -> list[Digest]:
    """The digests to send at `local` (the recipient's local time): yesterday's from
    `digest_at` on; the previous Monday-to-Sunday's from `digest_at` on Mondays."""
    if local.timetz().replace(tzinfo=None) < config.digest_at:
        return []
    yesterday = local.date() - timedelta(days=1)
    due = []
    if "digest_daily" in config.on:
        due.append(Digest("daily", yesterday, yesterday))
    if "digest_weekly" in config.on and local.weekday() == 0:
        due.append(Digest("weekly", yesterday - timedelta(days=6), yesterday))
    return due
