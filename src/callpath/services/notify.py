"""What notifications read and write beside the outbox: a call's lead as it stands when
its notice is sent (not as it was queued), whether a missed caller was reached since,
the recipient's time zone, and a destination's digest queued once a day.

A digest is queued with a mark in `remote_links` (kind `digest`, its day) in the same
transaction: the mark's unique index (destination, kind, id) lets only one of two
processes that decide at once commit, so a day's digest is never queued twice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from callpath.storage import lead_repo, outbox_repo, remote_link_repo, site_repo, user_repo
from callpath.storage.db import transaction

Row = dict[str, Any]
DIGEST_LINK = "digest"


class Reads:
    """The sender's reads, each in its own short read-only transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def lead(self, account_id: int, call_id: str) -> Row | None:
        with transaction(self.engine, write=False) as conn:
            return lead_repo.notice_facts(conn, account_id, call_id)

    def reached(self, site_id: int, caller: str, since: float, until: float) -> bool:
        with transaction(self.engine, write=False) as conn:
            return lead_repo.reached(conn, site_id, caller, since, until)

    def place(
        self, account_id: int, dest_site_id: int | None, event_site_id: int | None
    ) -> tuple[str, str | None]:
        """The recipient's time zone (the destination's site's; else the one the account's
        sites share; else the event's site's; else UTC) and the event's site's name."""
        with transaction(self.engine, write=False) as conn:
            site = site_repo.site_row(conn, site_id=event_site_id) if event_site_id else None
            if dest_site_id is not None:
                zone = zone_of(conn, account_id, dest_site_id)
            else:
                shared = site_repo.account_zone(conn, account_id)
                zone = shared or (str(site["timezone"]) if site else "UTC")
        return zone, (str(site["name"]) if site else None)

    def user_active(self, account_id: int, user_id: int) -> bool:
        with transaction(self.engine, write=False) as conn:
            user = user_repo.account_user(conn, account_id, user_id)
        return user is not None and user.get("deactivated_at") is None


def zone_of(conn: Connection, account_id: int, site_id: int | None) -> str:
    """The site's time zone; without a site, the one all the account's sites share;
    else UTC."""
    if site_id is not None:
        site = site_repo.site_row(conn, site_id=site_id)
        if site is not None:
            return str(site["timezone"])
    return site_repo.account_zone(conn, account_id) or "UTC"


def digest_sent(conn: Connection, dest_id: int, mark: str) -> bool:
    return remote_link_repo.has_link(conn, dest_id, DIGEST_LINK, mark)


def queue_digest(
    engine: Engine, destination: Mapping[str, Any], mark: str, payload: Row, now: float
) -> int | None:
    """The digest event for this destination alone, with its mark; its id, or None when
    another process queued this day's first."""
    dest_id = int(destination["id"])
    try:
        with transaction(engine) as conn:
            if digest_sent(conn, dest_id, mark):
                return None
            remote_link_repo.add_link(
                conn,
                {
                    "account_id": destination["account_id"],
                    "destination_id": dest_id,
                    "kind": DIGEST_LINK,
                    "remote_id": mark,
                    "call_id": None,
                    "created_at": now,
                },
            )
            event = {
                "account_id": destination["account_id"],
                "site_id": destination["site_id"],
                "type": payload["type"],
                "subject": mark,
                "payload": payload,
                "created_at": now,
            }
            return outbox_repo.enqueue(conn, event, [dest_id], now)
    except IntegrityError:
        return None
