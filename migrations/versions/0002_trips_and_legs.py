"""Trips, legs, and the worker's lease on each person's pipeline state.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trips",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("start_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("start_lat", sa.Double(), nullable=False),
        sa.Column("start_lon", sa.Double(), nullable=False),
        sa.Column("end_lat", sa.Double(), nullable=False),
        sa.Column("end_lon", sa.Double(), nullable=False),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("co2e_g", sa.Double(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_trips_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_trips"),
    )
    op.create_index("ix_trips_user_id_start_ts_ms", "trips", ["user_id", "start_ts_ms"])
    op.create_table(
        "legs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("trip_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("mode_source", sa.String(16), nullable=False),
        sa.Column("inferred_mode", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Double(), nullable=False),
        sa.Column("occupants", sa.SmallInteger(), nullable=True),
        sa.Column("distance_m", sa.Double(), nullable=False),
        sa.Column("great_circle_m", sa.Double(), nullable=False),
        sa.Column("co2e_g", sa.Double(), nullable=False),
        sa.Column("factor_set", sa.String(64), nullable=False),
        sa.Column("factor_g_per_km", sa.Double(), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("geometry", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["trip_id"], ["trips.id"], name="fk_legs_trip_id_trips", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_legs_user_id_users", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_legs"),
    )
    op.create_index("ix_legs_trip_id_seq", "legs", ["trip_id", "seq"])
    op.create_index("ix_legs_user_id_start_ts_ms", "legs", ["user_id", "start_ts_ms"])
    with op.batch_alter_table("pipeline_states") as batch:
        batch.add_column(sa.Column("resume_from_ms", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("lease_owner", sa.String(64), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("claimed_points", sa.BigInteger(), server_default="0", nullable=False))
        batch.add_column(sa.Column("claimed_from_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_states") as batch:
        batch.drop_column("claimed_from_ms")
        batch.drop_column("claimed_points")
        batch.drop_column("lease_expires_at")
        batch.drop_column("lease_owner")
        batch.drop_column("resume_from_ms")
    op.drop_index("ix_legs_user_id_start_ts_ms", table_name="legs")
    op.drop_index("ix_legs_trip_id_seq", table_name="legs")
    op.drop_table("legs")
    op.drop_index("ix_trips_user_id_start_ts_ms", table_name="trips")
    op.drop_table("trips")
