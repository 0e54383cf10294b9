"""calls: an index on updated_at, for the calls whose lead is due

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_updated", "calls", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_calls_updated", table_name="calls")
