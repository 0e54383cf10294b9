"""deals: sales and their money, linked to the call, visit or visitor they came from

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=True),
        sa.Column("link", sa.String(length=12), nullable=False),
        sa.Column("call_id", sa.String(length=24), nullable=True),
        sa.Column("session_id", sa.String(length=32), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("caller", sa.String(length=32), nullable=True),
        sa.Column("visit_code", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_deals_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_deals_site_id_sites"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_deals_call_id_calls"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_deals_session_id_sessions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_deals"),
    )
    op.create_index("uq_deals_external", "deals", ["account_id", "external_id"], unique=True)
    op.create_index("ix_deals_site_closed", "deals", ["site_id", "closed_at"])
    op.create_index("ix_deals_call", "deals", ["call_id"])
    op.create_index("ix_deals_visitor", "deals", ["site_id", "visitor_id"])


def downgrade() -> None:
    op.drop_table("deals")
