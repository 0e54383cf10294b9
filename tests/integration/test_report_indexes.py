"""On SQLite the channel report's visits and visitors are read from an index alone: a
year of a busy site's sessions is a million rows, and the table itself is ten times
wider than what these counts need (landing URLs, referrers, user agents). PostgreSQL
has no such index (it cost the tracker's session starts; ARCHITECTURE.md)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.dialects import postgresql, sqlite

from callpath.reports import measures
from callpath.reports.dimensions import GROUPS
from callpath.reports.measures import Scope
from callpath.reports.period import Period
from callpath.storage.db import transaction
from tests.helpers import seed_site


def _plan(conn: Connection, query: object) -> str:
    dialect = postgresql.dialect() if conn.dialect.name == "postgresql" else sqlite.dialect()
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
    if conn.dialect.name == "postgresql":
        # Few rows in a test database: forbid what would beat an index on them.
        for knob in ("enable_seqscan", "enable_bitmapscan"):
            conn.exec_driver_sql(f"SET LOCAL {knob} = off")
        return "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
    return "\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def _only_index(plan: str, index: str) -> bool:
    covering = f"COVERING INDEX {index}" in plan or f"Index Only Scan using {index}" in plan
    return covering and "SCAN sessions\n" not in plan + "\n" and "Seq Scan" not in plan


def test_visits_and_visitors_come_from_covering_indexes(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's index; PostgreSQL reads the table")
    site = seed_site(engine)
    period = Period("Europe/Moscow", date(2026, 1, 1), date(2026, 12, 31), engine.dialect.name)
    scope = Scope(site.site_id, "RUB", period, "last_non_direct", {})
    with transaction(engine, write=False) as conn:
        by_channel = _plan(conn, measures.visits_query(scope, GROUPS["source"]))
        visitors = _plan(conn, measures.distinct_visitors_query(scope))
    assert _only_index(by_channel, "ix_sessions_channel"), by_channel
    assert _only_index(visitors, "ix_sessions_channel"), visitors
