"""Conversion feeds: a site's conversions file that an ad platform fetches over HTTPS on
its own schedule (Google Ads' scheduled uploads), authenticated with HTTP Basic.

The username is the feed's id: public, it is in the feed's URL too. The password is 192
random bits, shown once when the feed is made; only its SHA-256 is kept (a fast hash is
right for a secret nobody can guess; passwords people choose get argon2). Checking a
password compares digests in constant time, and an unknown or removed feed costs the
same comparison, so the answer tells nothing about which part was wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from callpath.services.setup import SetupError, unstorable
from callpath.storage import feed_repo

KINDS = {"google_ads": "gads_"}  # a feed's kind: the prefix of its ids
NAME_MAX = 100  # Google Ads' limit on a conversion action's name
DAYS_DEFAULT = 30
DAYS_MAX = 90  # Google Ads takes conversions of clicks up to 90 days old
DAY = 86_400
FETCH_TOUCH_SECONDS = 300  # "last fetched" is kept to this precision
ID_SHAPE = re.compile(r"[a-z]{1,8}_[0-9a-f]{16}")
# Compared against when there is no feed to compare with: the same work either way.
_NO_HASH = hashlib.sha256(b"no feed").hexdigest()


@dataclass(frozen=True, slots=True)
class Feed:
    id: str
    account_id: int
    site_id: int
    site_key: str
    kind: str
    conversion_name: str
    days: int
    all_calls: bool
    timezone: str
    currency: str
    created_at: float
    last_fetched_at: float | None

    def window(self, now: float) -> tuple[float, float]:
        """The calls a fetch at `now` holds: started in [since, until), UTC seconds."""
        return now - self.days * DAY, now

    def stale(self, now: float) -> bool:
        """Whether "last fetched" is old enough to be worth a write."""
        last = self.last_fetched_at
        return last is None or now - last > FETCH_TOUCH_SECONDS


@dataclass(frozen=True, slots=True)
class NewFeed:
    feed: Feed
    password: str  # shown once, never stored


def valid_name(text: str) -> str | None:
    """A conversion action's name as Google Ads takes it: one line of 1 to NAME_MAX
    characters, outer spaces dropped; None if `text` is no such name."""
    name = text.strip()
    if not name or len(name) > NAME_MAX or "\n" in name or "\r" in name or unstorable(name):
        return None
    return name


def digest(password: str) -> str:
    """What is stored of a feed's password."""
    return hashlib.sha256(password.encode("utf-8", "replace")).hexdigest()


def credentials_match(feed_id: str, secret_hash: str | None, username: str, password: str) -> bool:
    """Whether `username` and `password` open the feed `feed_id` whose password hash is
    `secret_hash` (None: there is no such feed, and nothing opens it). Constant time in
    the password, and the same work whether or not the feed exists."""
    same_user = hmac.compare_digest(
        username.encode("utf-8", "replace"), feed_id.encode("utf-8", "replace")
    )
    same_secret = hmac.compare_digest(digest(password), secret_hash or _NO_HASH)
    return secret_hash is not None and same_user and same_secret


def create_feed(
    conn: Connection,
    site: dict[str, Any],
    kind: str,
    conversion_name: str,
    days: int,
    all_calls: bool,
    now: float,
) -> NewFeed:
    """A new feed of `site` (its row: id, account_id), and its password (only now)."""
    if kind not in KINDS:
        raise SetupError(f"kind must be one of {', '.join(KINDS)}")
    name = valid_name(conversion_name)
    if name is None:
        raise SetupError(f"conversion name: one line of 1 to {NAME_MAX} characters")
    if not 1 <= days <= DAYS_MAX:
        raise SetupError(
            f"days: from 1 to {DAYS_MAX} (Google Ads takes clicks up to {DAYS_MAX} days old)"
        )
    feed_id = _new_id(conn, kind)
    password = secrets.token_urlsafe(24)
    values = {
        "id": feed_id,
        "account_id": int(site["account_id"]),
        "site_id": int(site["id"]),
        "kind": kind,
        "conversion_name": name,
        "days": days,
        "all_calls": all_calls,
        "secret_hash": digest(password),
        "created_at": now,
    }
    feed_repo.insert_feed(conn, values)
    row = feed_repo.live_feed(conn, feed_id)
    assert row is not None
    return NewFeed(_feed(row), password)


def authenticate(
    conn: Connection, kind: str, feed_id: str, username: str, password: str
) -> Feed | None:
    """The live feed of `kind` that `username` and `password` open, else None (a wrong
    password, no such feed, a removed one, another kind: all alike)."""
    row = feed_repo.live_feed(conn, feed_id) if ID_SHAPE.fullmatch(feed_id) else None
    if row is not None and row["kind"] != kind:
        row = None
    secret_hash = str(row["secret_hash"]) if row is not None else None
    if not credentials_match(feed_id, secret_hash, username, password) or row is None:
        return None
    return _feed(row)


def touch(conn: Connection, feed: Feed, now: float) -> None:
    feed_repo.touch_feed(conn, feed.id, now)


def list_feeds(conn: Connection, site_id: int | None = None) -> list[Feed]:
    return [_feed(row) for row in feed_repo.live_feeds(conn, site_id)]


def remove_feed(conn: Connection, feed_id: str, now: float) -> bool:
    """Remove a live feed: it answers no one from now on. False if there is none."""
    return ID_SHAPE.fullmatch(feed_id) is not None and feed_repo.remove_feed(conn, feed_id, now)


def _new_id(conn: Connection, kind: str) -> str:
    for _ in range(5):  # 64 random bits: a clash is next to impossible
        feed_id = KINDS[kind] + secrets.token_hex(8)
        if not feed_repo.taken(conn, feed_id):
            return feed_id
    raise SetupError("could not find a free feed id, try again")


def _feed(row: dict[str, Any]) -> Feed:
    return Feed(
        id=str(row["id"]),
        account_id=int(row["account_id"]),
        site_id=int(row["site_id"]),
        site_key=str(row["site_key"]),
        kind=str(row["kind"]),
        conversion_name=str(row["conversion_name"]),
        days=int(row["days"]),
        all_calls=bool(row["all_calls"]),
        timezone=str(row["timezone"]),
        currency=str(row["currency"]),
        created_at=float(row["created_at"]),
        last_fetched_at=None if row["last_fetched_at"] is None else float(row["last_fetched_at"]),
    )
