"""Failed pipeline runs per person: a count and when the next attempt may start.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_states") as batch:
        batch.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("last_failure_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_error", sa.String(120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_states") as batch:
        batch.drop_column("last_error")
        batch.drop_column("last_failure_at")
        batch.drop_column("failures")
