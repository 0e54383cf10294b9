"""pool numbers: which client (a keyed hash of its address) holds the number now

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tracking_numbers", sa.Column("held_client", sa.String(32), nullable=True))
    op.create_index(
        "ix_numbers_client", "tracking_numbers", ["site_id", "held_client", "held_until"]
    )


def downgrade() -> None:
    op.drop_index("ix_numbers_client", table_name="tracking_numbers")
    with op.batch_alter_table("tracking_numbers") as batch:
        batch.drop_column("held_client")
