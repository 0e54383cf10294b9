"""pool groups (sub-pools)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pool_group", sa.String(length=64), nullable=True))
        batch_op.drop_index("ix_numbers_pool")
        batch_op.create_index(
            "ix_numbers_pool_group",
            ["site_id", "kind", "active", "pool_group", "held_until"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("tracking_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_numbers_pool_group")
        batch_op.create_index(
            "ix_numbers_pool", ["site_id", "kind", "active", "held_until"], unique=False
        )
        batch_op.drop_column("pool_group")
