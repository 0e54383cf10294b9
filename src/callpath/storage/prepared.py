"""Hot-path statements: compiled once per dialect, run on the driver's own cursor.

The tracker endpoints run a handful of fixed statements per request. Going through
SQLAlchemy's execution machinery cost more CPU than the statements themselves
(bench/tracker_load.py), so these are compiled once by SQLAlchemy (same SQL, same
dialects) and then handed straight to the DB-API cursor of the connection SQLAlchemy
manages — inside the same transaction. Values must be plain: str, int, float, bool,
None; JSON columns take `json.dumps` text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
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


class InsertRows:
    """A multi-row INSERT (SQLite: one statement for many rows; PostgreSQL: one row's
    statement run for each in one pipeline), compiled once per dialect, set of columns
    and number of rows. `make(dialect name, number of rows, keys)` builds the statement
    (`into` for a plain INSERT; an upsert adds its dialect's ON CONFLICT). Rows must
    share their keys."""

    __slots__ = ("_cache", "_make")

    def __init__(self, make: Callable[[str, int, tuple[str, ...]], Executable]) -> None:
        self._make = make
        self._cache: dict[tuple[str, int, tuple[str, ...]], _Compiled] = {}

    @classmethod
    def into(cls, table: Table) -> InsertRows:
        return cls(lambda _dialect, count, keys: rows_of(table, count, keys))

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        dialect = conn.dialect
        keys = tuple(rows[0])
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if dialect.name == "postgresql":
            # psycopg parses a statement's placeholders once and keeps the result only for
            # statements of at most 50 parameters: a multi-row VALUES was parsed anew each
            # time (2 ms for 16 sessions). One row's statement, sent once per row in the
            # same pipeline, is parsed once.
            key = (dialect.name, 1, keys)
            sql, _order, _defaults = self._cache.get(key) or self._compile(key, dialect)
            cursor.executemany(sql, [{f"{k}__0": row[k] for k in keys} for row in rows])
            return
        key = (dialect.name, len(rows), keys)
        sql, order, _defaults = self._cache.get(key) or self._compile(key, dialect)
        named = {f"{k}__{i}": row[k] for i, row in enumerate(rows) for k in keys}
        args: Any = tuple(named[k] for k in order) if order is not None else named
        cursor.execute(sql, args)

    def _compile(self, key: tuple[str, int, tuple[str, ...]], dialect: Dialect) -> _Compiled:
        name, count, keys = key
        compiled = self._make(name, count, keys).compile(dialect=dialect)  # type: ignore[attr-defined]
        order = tuple(compiled.positiontup) if dialect.positional else None
        entry: _Compiled = (compiled.string, order, {})
        self._cache[key] = entry
        return entry


def rows_of(table: Table, count: int, keys: tuple[str, ...]) -> Insert:
    """`INSERT INTO table (keys) VALUES (...), (...)` with `count` rows of parameters
    named `key__i` (for `InsertRows`)."""
    return insert(table).values([{k: bindparam(f"{k}__{i}") for k in keys} for i in range(count)])
