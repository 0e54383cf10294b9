"""Hot-path statements: compiled once per dialect, run on the driver's own cursor.

The tracker endpoints run a handful of fixed statements per request. Going through
SQLAlchemy's execution machinery cost more CPU than the statements themselves
(bench/tracker_load.py), so these are compiled once by SQLAlchemy (same SQL, same
dialects) and then handed straight to the DB-API cursor of the connection SQLAlchemy
manages — inside the same transaction. Values must be plain: str, int, float, bool,
None; JSON columns take `json.dumps` text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table, bindparam
from sqlalchemy.dialects import sqlite
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
    """Many rows of one table in one statement, compiled once per dialect and set of
    columns. `upsert`: (the conflict's columns, the columns a conflict updates from the
    new row). Rows must share their keys.

    SQLite: a multi-row VALUES (compiled once per number of rows too). PostgreSQL: the
    rows as one JSON parameter, `INSERT ... SELECT ... FROM json_to_recordset(...)`: a
    fixed statement whatever the number of rows (the driver parses it once, the server
    plans it once), and one text to send (the driver's array parameters cost more CPU
    than the statement). Inside `together` the inserts wait and go out as one statement.
    """

    __slots__ = ("_cache", "_table", "_upsert")

    def __init__(
        self, table: Table, *, upsert: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    ) -> None:
        self._table = table
        self._upsert = upsert
        self._cache: dict[tuple[object, ...], _Compiled] = {}

    @classmethod
    def into(cls, table: Table) -> InsertRows:
        return cls(table)

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if conn.dialect.name == "postgresql":
            waiting: list[tuple[InsertRows, Sequence[Mapping[str, Any]]]] | None
            waiting = conn.info.get(_TOGETHER)
            if waiting is not None:
                waiting.append((self, rows))
            else:
                cursor.execute(self.postgresql(conn.dialect, tuple(rows[0]), "rows"), _json(rows))
            return
        key = (len(rows), tuple(rows[0]))
        sql, order, _defaults = self._cache.get(key) or self._compile(key, conn.dialect)
        named = {f"{k}__{i}": row[k] for i, row in enumerate(rows) for k in key[1]}
        args: Any = tuple(named[k] for k in order) if order is not None else named
        cursor.execute(sql, args)

    def _compile(self, key: tuple[int, tuple[str, ...]], dialect: Dialect) -> _Compiled:
        count, keys = key
        stmt: Any = sqlite.insert(self._table).values(
            [{k: bindparam(f"{k}__{i}") for k in keys} for i in range(count)]
        )
        if self._upsert is not None:
            index, updated = self._upsert
            excluded = stmt.excluded
            stmt = stmt.on_conflict_do_update(
                index_elements=list(index), set_={c: excluded[c] for c in updated}
            )
        compiled = stmt.compile(dialect=dialect)
        order = tuple(compiled.positiontup) if dialect.positional else None
        entry: _Compiled = (compiled.string, order, {})
        self._cache[key] = entry
        return entry

    def postgresql(self, dialect: Dialect, keys: tuple[str, ...], param: str) -> str:
        """The PostgreSQL statement for rows of `keys` given as JSON in `%(param)s`."""
        key = ("pg", keys, param)
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        quote = dialect.identifier_preparer.quote
        columns = [self._table.c[k] for k in keys]
        # JSON columns arrive as JSON text (a string in the row), and a type without its
        # length: VARCHAR(32) would cut a longer value short where the column refuses it.
        record = ", ".join(
            f"{quote(c.name)} {'TEXT' if isinstance(c.type, JSON) else _base_type(c, dialect)}"
            for c in columns
        )
        values = ", ".join(
            f"x.{quote(c.name)}{'::JSON' if isinstance(c.type, JSON) else ''}" for c in columns
        )
        sql = (
            f"INSERT INTO {quote(self._table.name)} ({', '.join(quote(k) for k in keys)})"
            f" SELECT {values} FROM json_to_recordset(%({param})s::JSON) AS x({record})"
        )
        if self._upsert is not None:
            index, updated = self._upsert
            sets = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updated)
            sql += f" ON CONFLICT ({', '.join(quote(c) for c in index)}) DO UPDATE SET {sets}"
        self._cache[key] = (sql, None, {})
        return sql


_TOGETHER = "callpath.insert_rows.together"


@contextmanager
def together(conn: Connection) -> Iterator[None]:
    """PostgreSQL: the `InsertRows` runs inside go out at the end as one statement (one
    data-modifying CTE each), so a group's rows cost the server one statement and the
    driver one send. Elsewhere, or when nested, this changes nothing."""
    if conn.dialect.name != "postgresql" or _TOGETHER in conn.info:
        yield
        return
    waiting: list[tuple[InsertRows, Sequence[Mapping[str, Any]]]] = []
    conn.info[_TOGETHER] = waiting
    try:
        yield
    finally:
        del conn.info[_TOGETHER]
    if not waiting:
        return
    parts = [
        f"w{i} AS ({inserts.postgresql(conn.dialect, tuple(rows[0]), f'r{i}')})"
        for i, (inserts, rows) in enumerate(waiting)
    ]
    params = {f"r{i}": _json(rows)["rows"] for i, (_inserts, rows) in enumerate(waiting)}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(f"WITH {', '.join(parts)} SELECT 1", params)


def _base_type(column: Column[Any], dialect: Dialect) -> str:
    return str(column.type.compile(dialect=dialect)).split("(", 1)[0]


def _json(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {"rows": json.dumps([dict(row) for row in rows], separators=(",", ":"))}
