"""sessions: on SQLite, a covering index for the channel report's visits and visitors

`ix_sessions_channel` (site, source, medium, visitor, start, device) answers the channel
report's visits and distinct visitors without reading the table; it holds only columns
written once, when the session starts. PostgreSQL gets no index here: in the tracker's
benchmark it cost session starts a fifth of their rate (ARCHITECTURE.md).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

CHANNEL = ["site_id", "source", "medium", "visitor_id", "started_at", "device"]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_sessions_channel", "sessions", CHANNEL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_sessions_channel", table_name="sessions")
