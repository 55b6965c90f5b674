"""Why each leg's mode (its reasons), the features a person's confirmations are compared on, and the
person's choice to let their confirmations teach the inference of their later legs.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("legs") as batch:
        batch.add_column(sa.Column("reasons", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("features", sa.JSON(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("learn_from_confirmations", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    # the person's confirmed legs are read at every pipeline run: most recent first
    op.create_index(
        "ix_legs_user_id_mode_source_start_ts_ms", "legs", ["user_id", "mode_source", "start_ts_ms"]
    )


def downgrade() -> None:
    op.drop_index("ix_legs_user_id_mode_source_start_ts_ms", table_name="legs")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("learn_from_confirmations")
    with op.batch_alter_table("legs") as batch:
        batch.drop_column("features")
        batch.drop_column("reasons")
