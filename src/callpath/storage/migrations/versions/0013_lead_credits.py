"""lead_credits: each lead's share per attribution model and touch of its journey

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_credits",
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=20), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("medium", sa.String(length=255), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("keyword", sa.String(length=255), nullable=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"], name="fk_lead_credits_lead_id_leads"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_lead_credits_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("lead_id", "model", "n", name="pk_lead_credits"),
    )


def downgrade() -> None:
    op.drop_table("lead_credits")
