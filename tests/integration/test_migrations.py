"""The migrations produce exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from callpath.storage.tables import SQLITE_ONLY_INDEXES, metadata


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    def declared_here(obj: Any, name: str | None, kind: str, reflected: bool, _: Any) -> bool:
        return not (
            kind == "index" and name in SQLITE_ONLY_INDEXES and engine.dialect.name != "sqlite"
        )

    with engine.connect() as conn:
        opts = {"compare_server_default": False, "include_object": declared_here}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, metadata)
    assert diff == []
