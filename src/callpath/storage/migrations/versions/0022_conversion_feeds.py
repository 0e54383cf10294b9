"""conversion feeds: a site's conversions fetched by an ad platform over HTTPS

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversion_feeds",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("conversion_name", sa.String(length=100), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("all_calls", sa.Boolean(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_fetched_at", sa.Float(), nullable=True),
        sa.Column("removed_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_conversion_feeds_account_id_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_conversion_feeds_site_id_sites"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_conversion_feeds"),
    )
    op.create_index("ix_conversion_feeds_account_id", "conversion_feeds", ["account_id"])
    op.create_index("ix_conversion_feeds_site_id", "conversion_feeds", ["site_id"])


def downgrade() -> None:
    op.drop_index("ix_conversion_feeds_site_id", table_name="conversion_feeds")
    op.drop_index("ix_conversion_feeds_account_id", table_name="conversion_feeds")
    op.drop_table("conversion_feeds")
