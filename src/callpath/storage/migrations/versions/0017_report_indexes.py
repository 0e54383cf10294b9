"""sessions: covering indexes for the reports' visits and visitors

`ix_sessions_channel` (site, source, medium, visitor, start, device) answers the channel
report's visits and distinct visitors; `ix_sessions_visitor` gains `device` so the
period's distinct visitors are read in visitor order, bots left out, from the index
alone. Both hold only columns written once, when the session starts.

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
    op.create_index("ix_sessions_channel", "sessions", CHANNEL)
    op.drop_index("ix_sessions_visitor", table_name="sessions")
    op.create_index(
        "ix_sessions_visitor", "sessions", ["site_id", "visitor_id", "started_at", "device"]
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_visitor", table_name="sessions")
    op.create_index("ix_sessions_visitor", "sessions", ["site_id", "visitor_id", "started_at"])
    op.drop_index("ix_sessions_channel", table_name="sessions")
