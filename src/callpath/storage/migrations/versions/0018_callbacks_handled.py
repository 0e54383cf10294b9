"""callbacks_handled: missed callers marked handled in the call center

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callbacks_handled",
        sa.Column("call_id", sa.String(24), sa.ForeignKey("calls.id"), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("site_id", sa.Integer(), sa.ForeignKey("sites.id"), nullable=False),
        sa.Column("handled_at", sa.Float(), nullable=False),
        sa.Column("handled_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("note", sa.String(200), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("callbacks_handled")
