"""Hot-path statements: compiled once per dialect, run on the driver's own cursor.

The tracker endpoints run a handful of fixed statements per request. Going through
SQLAlchemy's execution machinery cost more CPU than the statements themselves
(bench/tracker_load.py), so these are compiled once by SQLAlchemy (same SQL, same
dialects) and then handed straight to the DB-API cursor of the connection SQLAlchemy
manages — inside the same transaction. Values must be plain: str, int, float, bool,
None; JSON columns take `json.dumps` text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

_Compiled = tuple[str, tuple[str, ...] | None, dict[str, Any]]


class Prepared:
    __slots__ = ("_cache", "_stmt")

    def __init__(self, stmt: Executable) -> None:
        self._stmt = stmt
        self._cache: dict[object, _Compiled] = {}

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute and return the DB-API cursor (fetchone/fetchall/rowcount)."""
        dialect = conn.dialect
        key = (dialect.name, tuple(params)) if isinstance(self._stmt, Insert) else dialect.name
        compiled = self._cache.get(key) or self._compile(key, dialect, params)
        sql, order, defaults = compiled
        args: Any = (
            tuple(params[k] if k in params else defaults[k] for k in order)
            if order is not None
            else {**defaults, **params}
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(sql, args)
        return cursor

    def _compile(self, key: object, dialect: Dialect, params: Mapping[str, Any]) -> _Compiled:
        keys = list(params) if isinstance(self._stmt, Insert) else None
        compiled = self._stmt.compile(dialect=dialect, column_keys=keys)  # type: ignore[attr-defined]
        order = tuple(compiled.positiontup) if dialect.positional else None
        entry: _Compiled = (compiled.string, order, dict(compiled.params))
        self._cache[key] = entry
        return entry
