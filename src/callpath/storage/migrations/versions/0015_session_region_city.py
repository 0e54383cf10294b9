"""sessions: region and city, from a city database (CALLPATH_GEOIP_CITY_DB)

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("region", sa.String(128), nullable=True))
    op.add_column("sessions", sa.Column("city", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("city")
        batch.drop_column("region")
