"""One privacy budget for the territory's data, charged per local month of data; differentially private
releases kept so that the same question gets the same answer; exact monthly publications over the
administrator's partition, whose zones may name the larger zone (commune) they are in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

GRID_ID = uuid.UUID("9b7c6d5e-0000-4000-8000-000000000500")  # the built-in 500 m grid (0006)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("privacy_budgets")
    op.create_table(
        "privacy_months",
        sa.Column("month", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epsilon_spent", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("month", name="pk_privacy_months"),
    )
    op.create_table(
        "privacy_releases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("question", sa.String(64), nullable=False),
        sa.Column("endpoint", sa.String(40), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("epsilon", sa.Double(), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("operator_id", sa.Uuid(), nullable=True),
        sa.Column("operator_name", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_privacy_releases_operator_id_operators",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_releases"),
        sa.UniqueConstraint("question", name="uq_privacy_releases_question"),
    )
    op.create_index("ix_privacy_releases_created_at", "privacy_releases", ["created_at"])
    op.create_table(
        "publications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zone_set_id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["zone_set_id"],
            ["zone_sets.id"],
            name="fk_publications_zone_set_id_zone_sets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_publications"),
        sa.UniqueConstraint("zone_set_id", "month", name="uq_publications_zone_set_id_month"),
    )
    with op.batch_alter_table("zone_sets") as batch:
        batch.add_column(sa.Column("official", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("zones") as batch:
        batch.add_column(sa.Column("parent", sa.String(64), nullable=True))
    # The built-in grid is the territory's partition until an administrator names another.
    zone_sets = sa.table("zone_sets", sa.column("id", sa.Uuid()), sa.column("official", sa.Boolean()))
    op.execute(zone_sets.update().where(zone_sets.c.id == GRID_ID).values(official=True))


def downgrade() -> None:
    with op.batch_alter_table("zones") as batch:
        batch.drop_column("parent")
    with op.batch_alter_table("zone_sets") as batch:
        batch.drop_column("official")
    op.drop_table("publications")
    op.drop_index("ix_privacy_releases_created_at", table_name="privacy_releases")
    op.drop_table("privacy_releases")
    op.drop_table("privacy_months")
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
