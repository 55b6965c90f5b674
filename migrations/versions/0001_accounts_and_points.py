"""Accounts, tokens, raw points, motion activities and the per-person pipeline state.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("name", name="uq_operators_name"),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("device_label", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "(role = 'user' AND user_id IS NOT NULL AND operator_id IS NULL)"
            " OR (role = 'operator' AND operator_id IS NOT NULL AND user_id IS NULL)",
            name="ck_api_tokens_one_subject",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_api_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name="fk_api_tokens_operator_id_operators", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_index("ix_api_tokens_operator_id", "api_tokens", ["operator_id"])
    op.create_table(
        "location_points",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("accuracy_m", sa.REAL(), nullable=True),
        sa.Column("altitude_m", sa.REAL(), nullable=True),
        sa.Column("speed_mps", sa.REAL(), nullable=True),
        sa.Column("heading_deg", sa.REAL(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_location_points_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "ts_ms", name="pk_location_points"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "motion_activities",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ts_ms", sa.BigInteger(), nullable=False),
        sa.Column("activity_type", sa.String(16), nullable=False),
        sa.Column("confidence", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_motion_activities_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "ts_ms", name="pk_motion_activities"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "pipeline_states",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("pending_points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dirty_from_ms", sa.BigInteger(), nullable=True),
        sa.Column("processed_until_ms", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_pipeline_states_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_pipeline_states"),
    )


def downgrade() -> None:
    op.drop_table("pipeline_states")
    op.drop_table("motion_activities")
    op.drop_table("location_points")
    op.drop_index("ix_api_tokens_operator_id", table_name="api_tokens")
    op.drop_index("ix_api_tokens_user_id", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("operators")
    op.drop_table("users")
