"""The people with work waiting for the pipeline, in a partial index: the workers' claims and the backlog
metrics read those few rows instead of every person's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORK = "pending_points > 0 OR dirty_from_ms IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_pipeline_states_work",
        "pipeline_states",
        ["updated_at"],
        postgresql_where=sa.text(WORK),
        sqlite_where=sa.text(WORK),
    )


def downgrade() -> None:
    op.drop_index("ix_pipeline_states_work", table_name="pipeline_states")
