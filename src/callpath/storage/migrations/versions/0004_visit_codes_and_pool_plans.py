"""visit codes and pool plans

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_code", sa.String(length=8), nullable=True))
        batch_op.create_index("ix_sessions_visit_code", ["site_id", "visit_code"], unique=False)

    op.create_table(
        "pool_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_pool_plans_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_pool_plans_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pool_plans")),
    )
    with op.batch_alter_table("pool_plans", schema=None) as batch_op:
        batch_op.create_index("ix_pool_plans_site", ["site_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pool_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_pool_plans_site")
    op.drop_table("pool_plans")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_sessions_visit_code")
        batch_op.drop_column("visit_code")
