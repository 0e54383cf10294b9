"""Alembic environment: uses callpath's own engine factory and table metadata."""

from __future__ import annotations

from alembic import context

from callpath.storage.db import make_engine
from callpath.storage.tables import metadata

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    engine = make_engine(url)
    with engine.connect() as conn:
        context.configure(
            connection=conn, target_metadata=metadata, render_as_batch=url.startswith("sqlite")
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
