"""pool plans: a heartbeat while one runs

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("pool_plans", sa.Column("alive_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pool_plans") as batch:
        batch.drop_column("alive_at")
