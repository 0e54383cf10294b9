"""Marking a missed caller handled: someone of the account took care of them in a way
callpath cannot see (a call from a mobile, a message, a wrong number). The call stays
lost in every count; only the list of callers to call back leaves it out."""

from __future__ import annotations

from sqlalchemy import Connection

from callpath.services.auth import Principal
from callpath.services.setup import SetupError
from callpath.storage import callback_repo

NOTE_MAX = 200


class NotFound(LookupError):
    """No such call in the account."""


def mark_handled(
    conn: Connection, who: Principal, call_id: str, note: str | None, now: float
) -> None:
    call = callback_repo.missed_call(conn, who.account_id, call_id[:40])
    if call is None:
        raise NotFound("no such call")
    if not call["missed"]:
        raise SetupError("only a missed call's caller can be marked handled")
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        raise SetupError(f"note: at most {NOTE_MAX} characters")
    callback_repo.mark(
        conn,
        {
            "call_id": call_id,
            "account_id": who.account_id,
            "site_id": call["site_id"],
            "handled_at": now,
            "handled_by": who.user_id,
            "note": text or None,
        },
    )


def unmark_handled(conn: Connection, who: Principal, call_id: str) -> None:
    if not callback_repo.unmark(conn, who.account_id, call_id[:40]):
        raise NotFound("that caller was not marked handled")
