"""Self data: consents and their history, privacy zones, access log, retention, shared trip ends.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("point_retention_days", sa.SmallInteger(), server_default="30", nullable=False)
        )
    with op.batch_alter_table("pipeline_states") as batch:
        batch.add_column(sa.Column("purged_until_ms", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("trips") as batch:
        for name in (
            "shared_start_lat",
            "shared_start_lon",
            "shared_end_lat",
            "shared_end_lon",
            "shared_distance_m",
        ):
            batch.add_column(sa.Column(name, sa.Double(), nullable=True))
    op.create_table(
        "consents",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_consents_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "purpose", name="pk_consents"),
    )
    op.create_table(
        "consent_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_consent_events_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consent_events"),
    )
    op.create_index("ix_consent_events_user_id_at", "consent_events", ["user_id", "at"])
    op.create_table(
        "privacy_zones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(60), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("radius_m", sa.Double(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_privacy_zones_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_zones"),
    )
    op.create_index("ix_privacy_zones_user_id", "privacy_zones", ["user_id"])
    op.create_table(
        "access_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_access_log_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_access_log"),
    )
    op.create_index("ix_access_log_user_id_at", "access_log", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_access_log_user_id_at", table_name="access_log")
    op.drop_table("access_log")
    op.drop_index("ix_privacy_zones_user_id", table_name="privacy_zones")
    op.drop_table("privacy_zones")
    op.drop_index("ix_consent_events_user_id_at", table_name="consent_events")
    op.drop_table("consent_events")
    op.drop_table("consents")
    with op.batch_alter_table("trips") as batch:
        for name in (
            "shared_distance_m",
            "shared_end_lon",
            "shared_end_lat",
            "shared_start_lon",
            "shared_start_lat",
        ):
            batch.drop_column(name)
    with op.batch_alter_table("pipeline_states") as batch:
        batch.drop_column("purged_until_ms")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("point_retention_days")
