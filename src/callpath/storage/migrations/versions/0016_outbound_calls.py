"""calls: direction (outbound: the business calling a customer); leads: called_back_after

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "calls",
        sa.Column("direction", sa.String(8), nullable=False, server_default="inbound"),
    )
    op.add_column("leads", sa.Column("called_back_after", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("called_back_after")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("direction")
