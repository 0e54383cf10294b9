"""leads: what every call counts as (by the site's rules), and the spam block list

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sites", sa.Column("lead_rules", sa.JSON(), nullable=True))
    op.create_table(
        "leads",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=24), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("caller", sa.String(length=32), nullable=True),
        sa.Column("first_time", sa.Boolean(), nullable=False),
        sa.Column("target", sa.Boolean(), nullable=False),
        sa.Column("missed", sa.Boolean(), nullable=False),
        sa.Column("abandoned", sa.Boolean(), nullable=False),
        sa.Column("lost", sa.Boolean(), nullable=False),
        sa.Column("recovered_after", sa.Float(), nullable=True),
        sa.Column("spam", sa.Boolean(), nullable=False),
        sa.Column("spam_score", sa.Float(), nullable=False),
        sa.Column("spam_reason", sa.String(length=200), nullable=True),
        sa.Column("classified_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_leads_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name="fk_leads_site_id_sites"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_leads_call_id_calls"),
        sa.PrimaryKeyConstraint("id", name="pk_leads"),
    )
    op.create_index("ix_leads_site_started", "leads", ["site_id", "started_at"])
    op.create_table(
        "blocked_numbers",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("e164", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_blocked_numbers_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("account_id", "e164", name="pk_blocked_numbers"),
    )


def downgrade() -> None:
    op.drop_table("blocked_numbers")
    op.drop_index("ix_leads_site_started", table_name="leads")
    op.drop_table("leads")
    with op.batch_alter_table("sites") as batch:
        batch.drop_column("lead_rules")
