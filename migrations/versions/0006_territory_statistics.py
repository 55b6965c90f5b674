"""The territory's statistics: zone sets, zones, rollups and the privacy budget ledger.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The built-in zone set: a 500 m grid in Lambert-93 (EPSG:2154), the French official projection.
GRID_ID = "9b7c6d5e-0000-4000-8000-000000000500"


def upgrade() -> None:
    zone_sets = op.create_table(
        "zone_sets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cell_m", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name="fk_zone_sets_operator_id_operators", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_zone_sets"),
        sa.UniqueConstraint("name", name="uq_zone_sets_name"),
    )
    op.create_table(
        "zones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_set_id"], ["zone_sets.id"], name="fk_zones_zone_set_id_zone_sets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_zones"),
        sa.UniqueConstraint("zone_set_id", "code", name="uq_zones_zone_set_id_code"),
    )
    op.create_table(
        "rollups",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("origin_zone", sa.String(64), nullable=True),
        sa.Column("dest_zone", sa.String(64), nullable=True),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("co2e_g", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_rollups_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["zone_set_id"], ["zone_sets.id"], name="fk_rollups_zone_set_id_zone_sets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_rollups"),
    )
    op.create_index("ix_rollups_zone_set_id_day", "rollups", ["zone_set_id", "day"])
    op.create_index("ix_rollups_user_id_day", "rollups", ["user_id", "day"])
    op.create_table(
        "privacy_budgets",
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("epsilon_spent", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_privacy_budgets_operator_id_operators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("operator_id", "period", name="pk_privacy_budgets"),
    )
    op.bulk_insert(
        zone_sets,
        [
            {
                "id": uuid.UUID(GRID_ID),
                "name": "grid-500m",
                "kind": "grid",
                "cell_m": 500,
                "operator_id": None,
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("privacy_budgets")
    op.drop_index("ix_rollups_user_id_day", table_name="rollups")
    op.drop_index("ix_rollups_zone_set_id_day", table_name="rollups")
    op.drop_table("rollups")
    op.drop_table("zones")
    op.drop_table("zone_sets")
