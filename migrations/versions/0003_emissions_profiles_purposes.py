"""Reproducible emissions (factor key and unit per leg), territory factors, profiles, trip purposes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("legs") as batch:
        batch.add_column(sa.Column("factor_key", sa.String(80), server_default="", nullable=False))
        batch.add_column(
            sa.Column("factor_unit", sa.String(16), server_default="passenger-km", nullable=False)
        )
    with op.batch_alter_table("trips") as batch:
        batch.add_column(sa.Column("purpose", sa.String(16), nullable=True))
        batch.add_column(sa.Column("purpose_source", sa.String(16), nullable=True))
    op.create_table(
        "profiles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("car_fuel", sa.String(16), nullable=True),
        sa.Column("car_occupancy", sa.SmallInteger(), nullable=True),
        sa.Column("bike_kind", sa.String(16), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_profiles_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_profiles"),
    )
    op.create_table(
        "territory_factors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("variant", sa.String(16), server_default="", nullable=False),
        sa.Column("g_per_km", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("valid_from_ms", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_territory_factors_operator_id_operators",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_territory_factors"),
    )
    op.create_index("ix_territory_factors_mode_valid_from_ms", "territory_factors", ["mode", "valid_from_ms"])


def downgrade() -> None:
    op.drop_index("ix_territory_factors_mode_valid_from_ms", table_name="territory_factors")
    op.drop_table("territory_factors")
    op.drop_table("profiles")
    with op.batch_alter_table("trips") as batch:
        batch.drop_column("purpose_source")
        batch.drop_column("purpose")
    with op.batch_alter_table("legs") as batch:
        batch.drop_column("factor_unit")
        batch.drop_column("factor_key")
