"""Missed callers marked handled (`callbacks_handled`), always within one account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from callpath.storage.tables import callbacks_handled, calls, leads

h, k, ld = callbacks_handled.c, calls.c, leads.c


def missed_call(conn: Connection, account_id: int, call_id: str) -> dict[str, Any] | None:
    """The account's call `call_id` with whether its lead was missed, or None."""
    query = (
        select(k.id, k.site_id, ld.missed)
        .select_from(calls.outerjoin(leads, ld.call_id == k.id))
        .where(k.account_id == account_id, k.id == call_id)
    )
    row = conn.execute(query).first()
    return None if row is None else {"site_id": row.site_id, "missed": bool(row.missed)}


def mark(conn: Connection, values: dict[str, Any]) -> None:
    """Marks a call handled, or updates who and when if it already was: one statement,
    so two people marking the same caller at once make one mark, never an error."""
    conn.execute(_UPSERT[conn.dialect.name], values)


def _upsert(module: Any) -> Any:
    stmt = module.insert(callbacks_handled)
    updated = {name: stmt.excluded[name] for name in ("handled_at", "handled_by", "note")}
    return stmt.on_conflict_do_update(index_elements=["call_id"], set_=updated)


_UPSERT = {"sqlite": _upsert(sqlite), "postgresql": _upsert(postgresql)}


def unmark(conn: Connection, account_id: int, call_id: str) -> bool:
    done = conn.execute(
        delete(callbacks_handled).where(h.account_id == account_id, h.call_id == call_id)
    )
    return bool(done.rowcount)
