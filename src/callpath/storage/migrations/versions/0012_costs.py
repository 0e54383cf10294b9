"""costs: ad spend per day and channel, imported from files

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "costs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("medium", sa.String(length=255), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("term", sa.String(length=255), nullable=False),
        sa.Column("content", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_costs_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_costs_site_id_sites"),
        sa.PrimaryKeyConstraint("id", name="pk_costs"),
    )
    op.create_index("ix_costs_site_day", "costs", ["site_id", "day"])


def downgrade() -> None:
    op.drop_index("ix_costs_site_day", table_name="costs")
    op.drop_table("costs")
