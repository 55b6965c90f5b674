"""Monthly rollups, so that monthly releases cost people and months, not trips.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollups_monthly",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("co2e_g", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_rollups_monthly_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["zone_set_id"],
            ["zone_sets.id"],
            name="fk_rollups_monthly_zone_set_id_zone_sets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rollups_monthly"),
    )
    op.create_index("ix_rollups_monthly_zone_set_id_month", "rollups_monthly", ["zone_set_id", "month"])
    op.create_index("ix_rollups_monthly_user_id_month", "rollups_monthly", ["user_id", "month"])
    # Fill from the daily rollups already held.
    op.execute(
        "INSERT INTO rollups_monthly (user_id, zone_set_id, month, mode, trips, distance_m, co2e_g) "
        "SELECT user_id, zone_set_id, day / 100, mode, SUM(trips), SUM(distance_m), SUM(co2e_g) "
        "FROM rollups GROUP BY user_id, zone_set_id, day / 100, mode"
    )


def downgrade() -> None:
    op.drop_index("ix_rollups_monthly_user_id_month", table_name="rollups_monthly")
    op.drop_index("ix_rollups_monthly_zone_set_id_month", table_name="rollups_monthly")
    op.drop_table("rollups_monthly")
