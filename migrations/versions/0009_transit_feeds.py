"""The territory's public transport networks (GTFS feeds): their stops, kinds of service and lines.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "transit_feeds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("stops", sa.Integer(), nullable=False),
        sa.Column("routes", sa.Integer(), nullable=False),
        sa.Column("min_lat", sa.Double(), nullable=False),
        sa.Column("min_lon", sa.Double(), nullable=False),
        sa.Column("max_lat", sa.Double(), nullable=False),
        sa.Column("max_lon", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transit_feeds"),
        sa.UniqueConstraint("name", name="uq_transit_feeds_name"),
    )
    op.create_table(
        "transit_stops",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("feed_id", sa.Uuid(), nullable=False),
        sa.Column("stop_id", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("kinds", sa.Integer(), nullable=False),
        sa.Column("routes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["transit_feeds.id"],
            name="fk_transit_stops_feed_id_transit_feeds",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_transit_stops"),
    )
    op.create_index("ix_transit_stops_lat_lon", "transit_stops", ["lat", "lon"])


def downgrade() -> None:
    op.drop_index("ix_transit_stops_lat_lon", table_name="transit_stops")
    op.drop_table("transit_stops")
    op.drop_table("transit_feeds")
