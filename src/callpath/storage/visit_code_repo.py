"""The call a visit code is entered on (account-scoped). Sessions' codes: session_repo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select

from callpath.storage.tables import calls

c = calls.c
_CALL = select(
    c.id, c.account_id, c.integration_id, c.provider_call_id, c.site_id, c.started_at
).where(c.id == bindparam("call_id"), c.account_id == bindparam("account_id"))


def call_for_entry(conn: Connection, account_id: int, call_id: str) -> dict[str, Any] | None:
    row = conn.execute(_CALL, {"call_id": call_id, "account_id": account_id}).first()
    return dict(row._mapping) if row else None
